"""Staging and publishing: runs of one partition at once, staging of dead runs, unwritable destinations."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from threading import Event

import orjson
import pytest
from fsspec.implementations.local import LocalFileSystem

from airflow_provider_akinon.errors import DestinationError
from airflow_provider_akinon.exports import destination_path, iter_export_records, read_manifest
from airflow_provider_akinon.exports.output.lock import PublishLock
from airflow_provider_akinon.exports.output.target import RUN, STAGING, ExportTarget
from airflow_provider_akinon.operators.akinon import FetchOrdersOperator

DAY = {"start": "2026-01-02T00:00:00Z", "end": "2026-01-03T00:00:00Z"}


def export(destination, **kwargs):
    return FetchOrdersOperator(task_id="o", destination=destination, **{**DAY, **kwargs}).execute({})


def published(uri):
    """The manifest, and the part files present with their sha256."""
    folder = destination_path(uri)
    manifest = read_manifest(uri)
    parts = {}
    for entry in folder.iterdir():
        if entry.name.startswith("part-"):
            with entry.open("rb") as handle:
                parts[entry.name] = hashlib.sha256(handle.read()).hexdigest()
    return manifest, parts


def _export_publishing_with_the_other(barrier, destination: str, kwargs: dict) -> None:
    """One run in its own process (as a retry beside a zombie attempt is): it publishes at the same
    moment as the other run, once both have staged everything."""
    publish = ExportTarget.publish

    def publish_together(self, parts, manifest):
        barrier.wait()
        return publish(self, parts, manifest)

    ExportTarget.publish = publish_together
    export(destination, **kwargs)


@pytest.mark.parametrize("storage", ["file", "s3"])
def test_two_runs_of_one_partition_at_once_end_complete_and_consistent(
    akinon_default, tmp_path, request, storage
):
    dest = str(tmp_path / "p") if storage == "file" else f"{request.getfixturevalue('s3_dest')}/p/"
    export(dest, page_size=10, max_file_bytes=20_000)  # an earlier export with many parts
    spawn = multiprocessing.get_context("spawn")
    both_staged = spawn.Barrier(2, timeout=300)
    # different part layouts, so a partition mixing the two runs would show
    layouts = [{"page_size": 10, "max_file_bytes": 40_000}, {"page_size": 25, "max_concurrency": 1}]
    runs = [
        spawn.Process(target=_export_publishing_with_the_other, args=(both_staged, dest, layout))
        for layout in layouts
    ]
    for run in runs:
        run.start()
    for run in runs:
        run.join(timeout=600)
    assert [run.exitcode for run in runs] == [0, 0]  # neither failed
    manifest, parts = published(dest)
    assert {f["name"]: f["sha256"] for f in manifest["files"]} == parts  # exactly the files present
    assert sorted(r["id"] for r in iter_export_records(dest)) == akinon_default.data.expected(
        "orders", "created_date", *DAY.values()
    )
    assert manifest["records"] == len(akinon_default.data.expected("orders", "created_date", *DAY.values()))
    staging = destination_path(dest) / STAGING
    staging.fs.invalidate_cache()
    assert not staging.exists() or not list(staging.iterdir())
    assert not (destination_path(dest) / "_publish.lock").exists()


def test_a_run_never_removes_the_staging_of_a_live_run(akinon_default, tmp_path):
    live = ExportTarget(destination_path(str(tmp_path)))
    live.prepare()  # this process is alive: its staging must survive other runs
    export(str(tmp_path))
    assert (live.staging / RUN).exists()


def test_staging_of_dead_runs_is_swept(akinon_default, tmp_path):
    root = tmp_path / STAGING
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    now = datetime.now(UTC)
    folders = {
        "dead_here": (now, {"host": os.uname().nodename, "pid": int(dead.stdout)}),
        "alive_elsewhere_old": (now - timedelta(hours=25), {"host": "other-host", "pid": 1}),
        "alive_elsewhere_new": (now - timedelta(hours=1), {"host": "other-host", "pid": 1}),
    }
    for name, (started, run) in folders.items():
        folder = root / f"{started:%Y%m%dT%H%M%S}-{name}"
        folder.mkdir(parents=True)
        (folder / RUN).write_bytes(orjson.dumps(run))
        (folder / "s00000-000.jsonl").write_bytes(b"{}\n")
    export(str(tmp_path))
    left = sorted(p.name.split("-", 1)[1] for p in root.iterdir())
    assert left == ["alive_elsewhere_new"]


def test_an_unwritable_destination_names_the_path_and_the_fix(akinon_default, tmp_path):
    if os.geteuid() == 0:  # root writes anywhere: a file where the folder should be fails for root too
        blocked = tmp_path / "blocked"
        blocked.write_text("a file, not a folder")
        dest = blocked / "orders"
    else:
        dest = tmp_path / "ro"
        dest.mkdir()
        dest.chmod(0o500)
    with pytest.raises(DestinationError) as err:
        export(str(dest))
    message = str(err.value)
    assert str(dest) in message
    fix = "a file stands where a folder should be" if os.geteuid() == 0 else "Give this worker write access"
    assert fix in message
    assert akinon_default.log.requests == 0  # checked before any request to the API


def test_a_dead_publishers_lock_is_broken_and_a_live_lock_is_kept_fresh_then_released(
    akinon_default, tmp_path
):
    dest = tmp_path / "p"
    dest.mkdir()
    lock = dest / "_publish.lock"
    lock.write_bytes(orjson.dumps({"token": "a-run-that-died", "at": 0}))
    old = (datetime.now(UTC) - timedelta(hours=1)).timestamp()
    os.utime(lock, (old, old))  # untouched for an hour: its publisher is gone
    export(str(dest))
    assert read_manifest(str(dest))["records"] > 0
    assert not lock.exists()

    live = PublishLock(LocalFileSystem(), str(lock), "live-run", stale_after=0.4)
    written, beaten = [], Event()
    identity = live._identity

    def counted() -> bytes:
        written.append(1)
        if len(written) >= 3:  # created, then two heartbeats
            beaten.set()
        return identity()

    live._identity = counted
    with live.held():  # held by a live publisher, its heartbeat going (every 0.05 s here)
        assert beaten.wait(timeout=60)
        # rewritten whole by each heartbeat: a reader never finds it empty or half written
        assert {orjson.loads(lock.read_bytes())["token"] for _ in range(500)} == {"live-run"}
    assert not lock.exists()  # released by its owner
