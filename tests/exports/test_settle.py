"""The settle loop and its rules, alone: which passes are exact, when it walks again, what it says when it gives up."""

from __future__ import annotations

import pytest

from airflow_provider_akinon.errors import ExportConsistencyError
from airflow_provider_akinon.exports.settle import CHANGES_FEED, GROWING, STRICT, Walked, settle


@pytest.mark.parametrize(
    ("rule", "walked", "exact"),
    [
        (STRICT, Walked(10, (10, 10)), True),
        (STRICT, Walked(10, (10, 11)), False),  # one came in while walked
        (STRICT, Walked(10, (None, None)), True),  # a cursor paging counts nothing: nothing to disagree
        (CHANGES_FEED, Walked(9, (10, 8)), True),  # updates left the window while walked: found in between
        (CHANGES_FEED, Walked(7, (10, 8)), False),  # fewer than stayed: a record was skipped
        (CHANGES_FEED, Walked(11, (10, 11)), False),  # more than were there: the window is not closed
        (GROWING, Walked(12, (10, 12)), True),
        (GROWING, Walked(9, (10, 9)), False),  # a shrinking list may have shifted a record past the walk
    ],
)
def test_when_a_pass_is_exact(rule, walked, exact):
    assert rule.exact(walked) is exact


def test_the_first_exact_pass_is_kept_and_each_inexact_one_discarded():
    passes = iter([Walked(9, (10, 10)), Walked(11, (10, 11)), Walked(11, (11, 11))])
    discarded = []
    walked = settle(
        lambda: next(passes), rule=STRICT, passes=5, what="orders", again=lambda: discarded.append(1)
    )
    assert walked == Walked(11, (11, 11))
    assert len(discarded) == 2


def test_a_count_that_never_matches_is_named_as_the_apis_disagreement():
    with pytest.raises(
        ExportConsistencyError, match="every walk \\(3\\) found 9 records but the API counts 10"
    ):
        settle(lambda: Walked(9, (10, 10)), rule=STRICT, passes=3, what="orders", again=lambda: None)


def test_data_that_keeps_changing_is_named_so_with_what_was_seen():
    passes = iter([Walked(9, (10, 11)), Walked(12, (12, 13))])
    with pytest.raises(
        ExportConsistencyError, match=r"orders kept changing during 2 walks \(found \[9, 12\]"
    ):
        settle(lambda: next(passes), rule=STRICT, passes=2, what="orders", again=lambda: None)


def test_the_last_word_is_the_apis_last_count_or_what_was_found():
    assert Walked(5, (4, None, 6)).last == 6
    assert Walked(5, (None,)).last == 5
