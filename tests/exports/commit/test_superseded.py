"""Superseded parts on real storage: kept for readers by when they were replaced, and only the replaced export's."""

from __future__ import annotations

import os
import time

import pytest

from airflow_provider_akinon.exports import destination_path, iter_export_records, read_manifest
from airflow_provider_akinon.exports.commit.lease import STAGING, Liveness
from airflow_provider_akinon.exports.commit.protocol import SUPERSEDED, commit_record
from airflow_provider_akinon.exports.commit.store import LocalStore, S3Store, store_for
from airflow_provider_akinon.operators.akinon import FetchOrdersOperator

DAY = {"start": "2026-01-02T00:00:00Z", "end": "2026-01-03T00:00:00Z"}
#: the shortened ``superseded_retention``: on S3 the test waits it out once, so it is short there; it is
#: still far longer than a republish takes (each one's parts are judged by the next within it)
RETENTION = {"file": 60.0, "s3": 10.0}


def export(destination, **kwargs):
    return FetchOrdersOperator(task_id="o", destination=destination, **{**DAY, **kwargs}).execute({})


def destination(storage, tmp_path, request, name):
    return str(tmp_path / name) if storage == "file" else f"{request.getfixturevalue('s3_dest')}/{name}/"


def make_older_than(dest, storage, names, seconds):
    """Make the parts ``names`` of the export at ``dest`` older than ``seconds`` by the store's clock: on a
    disk set their mtime back; S3 cannot be backdated, so wait (polling, bounded) until they are."""
    if storage == "file":
        then = time.time() - 2 * seconds
        for name in names:
            os.utime(os.path.join(dest, name), (then, then))
        return
    store = store_for(destination_path(dest), f"{STAGING}clock/")
    beside = store_for(destination_path(f"{dest.rstrip('/')}-clock/"), f"{STAGING}clock/")
    clock = Liveness(beside, "clock", retention=seconds)  # S3's clock, read off a heartbeat beside the export
    deadline = time.monotonic() + seconds + 120
    while True:
        clock.beat()  # the store's clock, now
        if set(names) <= set(clock.expired(tuple(store.listing("")))):
            return
        assert time.monotonic() < deadline, f"the parts never got older than {seconds:g} s by S3's clock"
        time.sleep(0.5)  # a poll's pace: the condition above is what is waited for


@pytest.mark.parametrize("storage", ["file", "s3"])
def test_an_export_older_than_the_retention_stays_for_its_reader_through_two_republishes(
    akinon_default, tmp_path, request, monkeypatch, storage
):
    """An export that stood longer than ``superseded_retention`` (a daily partition, republished the next
    day) is published again twice while a slow reader reads it: its parts are kept in
    ``_akinon/superseded/`` for the retention counted from when they were replaced, so the read completes."""
    retention = RETENTION[storage]
    monkeypatch.setenv("AIRFLOW__AKINON__SUPERSEDED_RETENTION", str(retention))
    dest = destination(storage, tmp_path, request, "aged")
    expected = akinon_default.data.expected("orders", "created_date", *DAY.values())
    export(dest, page_size=20, max_file_bytes=15_000)
    pinned = read_manifest(dest)
    names = [f["name"] for f in pinned["files"]]
    assert len(names) > 3  # the reader has parts left to read after the republishes
    make_older_than(dest, storage, names, retention)
    reader = iter_export_records(dest)
    got = [next(reader)["id"]]  # the reader opened the export, and reads slowly
    export(dest, page_size=25)  # its parts move to _akinon/superseded/: replaced now
    export(dest, page_size=30)  # removes superseded parts past their retention: not those
    assert read_manifest(dest)["version"] == pinned["version"] + 2
    got += [r["id"] for r in reader]
    assert sorted(got) == expected  # the pinned export, whole


def recording(monkeypatch, storage):
    """Record the store's writes (the heartbeat's and scratch files' aside): ``(method, key[, target])``."""
    cls = LocalStore if storage == "file" else S3Store
    calls: list[tuple[str, ...]] = []
    for method in ("create", "swap", "put", "delete", "place", "touch"):
        real = getattr(cls, method, None)
        if real is None:
            continue

        def recorded(self, key, *args, _real=real, _method=method, **kwargs):
            if not key.endswith("/_beat") and "/.write-" not in key:
                calls.append((_method, key, *(args[:1] if _method == "place" else ())))
            return _real(self, key, *args, **kwargs)

        monkeypatch.setattr(cls, method, recorded)
    return calls


def counts(calls):
    found: dict[str, int] = {}
    for call in calls:
        found[call[0]] = found.get(call[0], 0) + 1
    return found


@pytest.mark.parametrize("storage", ["file", "s3"])
def test_the_41st_publish_of_a_window_supersedes_only_the_40th_export(
    akinon_default, tmp_path, request, monkeypatch, storage
):
    """A window published 40 times: the 41st publish moves in its own parts and moves out exactly the 40th
    export's (its manifest's ``replaces``), the same store writes as the second publish made: nothing that
    grows with the window's history is done while the lease is held."""
    dest = destination(storage, tmp_path, request, "often")
    layout = {"page_size": 100, "max_file_bytes": 20_000}
    export(dest, **layout)
    with monkeypatch.context() as patched:
        second = recording(patched, storage)
        export(dest, **layout)
    for _ in range(38):
        export(dest, **layout)
    fortieth = read_manifest(dest)
    assert fortieth["version"] == 40
    replaced = sorted(f["name"] for f in fortieth["files"])
    assert len(replaced) > 1
    with monkeypatch.context() as patched:
        calls = recording(patched, storage)
        export(dest, **layout)
    manifest = read_manifest(dest)
    assert manifest["version"] == 41
    assert manifest["replaces"] == replaced
    new = sorted(f["name"] for f in manifest["files"])
    assert sorted(call[2] for call in calls if call[0] == "place") == sorted(
        new + [f"{SUPERSEDED}{name}" for name in replaced]
    )
    outside_staging = [call[1] for call in calls if call[0] == "delete" and not call[1].startswith(STAGING)]
    assert sorted(outside_staging) == replaced
    assert counts(calls) == counts(second)


def test_only_a_manifest_of_0_3_has_its_own_replaced_parts_replaced_again():
    """0.3 left the parts a manifest replaced in place until they were gone (its ``replaces``); a commit of
    0.4 moved them out before it left the lease. A name the new export reuses is never replaced."""
    legacy = {"files": [{"name": "part-00000-0000000b.jsonl"}], "replaces": ["part-00000-0000000a.jsonl"]}
    parts = [{"name": "part-00000-0000000c.jsonl"}]
    assert commit_record({}, legacy, "0000000c", parts)["replaces"] == [
        "part-00000-0000000a.jsonl",
        "part-00000-0000000b.jsonl",
    ]
    assert commit_record({}, {**legacy, "version": 7}, "0000000c", parts)["replaces"] == [
        "part-00000-0000000b.jsonl"
    ]
    reused = [{"name": "part-00000-0000000b.jsonl"}]
    assert commit_record({}, {**legacy, "version": 7}, "0000000c", reused)["replaces"] == []
    assert commit_record({}, None, "0000000c", parts)["replaces"] == []
