"""Superseded parts on real storage: kept for readers by when they were replaced."""

from __future__ import annotations

import os
import time

import pytest

from airflow_provider_akinon.exports import destination_path, iter_export_records, read_manifest
from airflow_provider_akinon.exports.output.lease import STAGING, Liveness
from airflow_provider_akinon.exports.output.store import store_for
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
