"""IdSet: a bitmap set of integer ids."""

from __future__ import annotations

import random

from airflow_provider_akinon.exports.idset import IdSet


def test_behaves_like_a_set_of_ints():
    rng = random.Random(3)
    values = [rng.randint(1000, 50_000) for _ in range(5_000)] + [17, 3, 999_999]
    ids, reference = IdSet(), set()
    for value in values:
        assert ids.add(value) == (value not in reference)
        reference.add(value)
    assert len(ids) == len(reference)
    assert sorted(ids) == sorted(reference)
    assert all(v in ids for v in reference)
    assert 2 not in ids
    assert 10**7 not in ids


def test_memory_follows_the_id_range_not_the_count():
    ids = IdSet()
    ids.update(range(1, 200_001))
    assert len(ids._bits) < 64_000
