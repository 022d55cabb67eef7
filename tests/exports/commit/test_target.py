"""Staging and publishing on real storage: runs of one partition at once, runs that stopped, unwritable places."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import shutil
import subprocess
import sys
import time

import orjson
import pytest

from airflow_provider_akinon.errors import DestinationError
from airflow_provider_akinon.exports import destination_path, iter_export_records, read_manifest
from airflow_provider_akinon.exports.commit.lease import LEASE, STAGING, LeaseState, Liveness, staging_of
from airflow_provider_akinon.exports.commit.store import LocalStore
from airflow_provider_akinon.exports.commit.target import ExportTarget
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


def lease_of(uri):
    folder = destination_path(uri)
    with (folder / LEASE).open("rb") as handle:
        return LeaseState.decode(handle.read())


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
    assert [run.exitcode for run in runs] == [0, 0]  # neither failed: one published, then the other
    manifest, parts = published(dest)
    assert manifest["version"] == 3
    assert {f["name"]: f["sha256"] for f in manifest["files"]} == parts  # exactly the files present
    assert sorted(r["id"] for r in iter_export_records(dest)) == akinon_default.data.expected(
        "orders", "created_date", *DAY.values()
    )
    staging = destination_path(dest) / STAGING
    staging.fs.invalidate_cache()
    assert not staging.exists() or not list(staging.iterdir())
    lease = lease_of(dest)
    assert (lease.holder, lease.intent, lease.commit) == (None, None, None)


def test_a_run_never_removes_the_staging_of_a_live_run(akinon_default, tmp_path):
    live = ExportTarget(destination_path(str(tmp_path)))
    live.prepare()  # its heartbeat goes on: its staging must survive other runs
    try:
        export(str(tmp_path))
        assert (tmp_path / staging_of(live.token) / "_beat").exists()
    finally:
        live.close()
    assert not (tmp_path / staging_of(live.token)).exists()  # its own close removes it


def write_staging(root, token, age, files=("_beat", "s00000-000.jsonl")):
    """A staging folder as a run leaves it, its files last written ``age`` seconds ago."""
    folder = root / staging_of(token)
    folder.mkdir(parents=True)
    then = time.time() - age
    for name in files:
        (folder / name).write_bytes(b"{}\n")
        os.utime(folder / name, (then, then))


def test_staging_of_runs_that_stopped_is_swept_by_the_stores_clock(akinon_default, tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW__AKINON__PUBLISH_LEASE_TIMEOUT", "60")
    write_staging(tmp_path, "20260101T000000-stopped1", age=3600)  # silent for an hour: stopped
    write_staging(tmp_path, "20260101T000000-nobeat01", age=600, files=("s00000-000.jsonl",))  # killed early
    write_staging(tmp_path, "20260101T000000-beating1", age=5)  # beat 5 s ago, on another machine
    export(str(tmp_path))
    assert sorted(p.name for p in (tmp_path / STAGING).iterdir()) == ["20260101T000000-beating1"]


def test_a_lease_whose_holder_stopped_is_taken_over_and_its_parts_rolled_back(akinon_default, tmp_path):
    """A run killed after moving a part in: its lease names it, its intent names the part. The next run
    takes the lease over (the holder's heartbeat is old), deletes that part, and publishes."""
    export(str(tmp_path))
    store = LocalStore(str(tmp_path), staging_of("x"))
    found = store.read(LEASE)
    orphan = "part-00000-deadbeef.jsonl"
    (tmp_path / orphan).write_bytes(b'{"id": 1}\n')
    held = LeaseState.decode(found.data).then(
        holder="20260101T000000-deadbeef", intent={"run": "deadbeef", "token": "t", "parts": [orphan]}
    )
    store.swap(LEASE, held.encode(), found.etag)
    write_staging(tmp_path, "20260101T000000-deadbeef", age=3600)
    export(str(tmp_path))
    lease = lease_of(str(tmp_path))
    assert (lease.holder, lease.intent, lease.aborted) == (None, None, ("deadbeef",))
    manifest, parts = published(str(tmp_path))
    assert set(parts) == {f["name"] for f in manifest["files"]}  # the orphan is gone
    assert not (tmp_path / STAGING / "20260101T000000-deadbeef").exists()


def test_a_live_holder_is_waited_for_and_never_judged_dead(akinon_default, tmp_path, monkeypatch):
    """A holder whose heartbeat goes on keeps the lease for as long as it holds it; a waiter gives up
    after publish_max_wait with a message naming it, and nothing of the waiter is published."""
    monkeypatch.setenv("AIRFLOW__AKINON__PUBLISH_LEASE_TIMEOUT", "1")
    monkeypatch.setenv("AIRFLOW__AKINON__PUBLISH_MAX_WAIT", "3")
    export(str(tmp_path))
    before = published(str(tmp_path))
    store = LocalStore(str(tmp_path), staging_of("holder"))
    holder = Liveness(store, "20260101T000000-a11ve000", lease_timeout=1)
    holder.start()  # beats every 1/6 s: never silent for a second
    try:
        found = store.read(LEASE)
        store.swap(LEASE, LeaseState.decode(found.data).then(holder=holder.token).encode(), found.etag)
        with pytest.raises(DestinationError, match=r"being published by another run .*a11ve000.* waited 3 s"):
            export(str(tmp_path), page_size=25)
        assert lease_of(str(tmp_path)).holder == holder.token
        assert published(str(tmp_path)) == before
    finally:
        holder.stop()


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


def test_a_lease_not_written_by_this_provider_is_refused_with_the_fix(akinon_default, tmp_path):
    export(str(tmp_path))
    (tmp_path / LEASE).write_bytes(orjson.dumps({"owner": "someone"}))
    with pytest.raises(DestinationError, match=r"not a publish lease this provider wrote.*Remove it only if"):
        export(str(tmp_path))


HOLDER = """
import sys
from airflow_provider_akinon.exports import destination_path
from airflow_provider_akinon.exports.commit.protocol import Held, acquire, write_lease
from airflow_provider_akinon.exports.commit.lease import Liveness
from airflow_provider_akinon.exports.commit.ops import drive
from airflow_provider_akinon.exports.commit.store import store_for

token = "20260101T000000-0e1sewe0"
store = store_for(destination_path(sys.argv[1]), f"_akinon/staging/{token}/")
liveness = Liveness(store, token, lease_timeout=1)
liveness.start()
held = drive(acquire(token), store, liveness)
print("held", flush=True)
sys.stdin.readline()  # until told to let go
drive(write_lease(held, held.state.then(holder=None)), store, liveness)
liveness.stop()
print("released", flush=True)
"""


@pytest.mark.skipif(not shutil.which("unshare") or os.geteuid() != 0, reason="needs unshare, as root")
def test_a_live_publisher_in_another_pid_namespace_is_never_judged_dead(
    akinon_default, tmp_path, monkeypatch
):
    """Same host name, its own process ids (a container sharing the host's name): its pid means nothing here,
    and it is never asked for. Its heartbeat says it is alive: it is waited for, then the export goes on."""
    monkeypatch.setenv("AIRFLOW__AKINON__PUBLISH_LEASE_TIMEOUT", "1")
    monkeypatch.setenv("AIRFLOW__AKINON__PUBLISH_MAX_WAIT", "4")
    export(str(tmp_path))
    holder = subprocess.Popen(
        ["unshare", "--pid", "--fork", "--mount-proc", sys.executable, "-c", HOLDER, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"  # blocks until the holder holds the lease
        with pytest.raises(
            DestinationError, match=r"another run \(20260101T000000-0e1sewe0\) whose heartbeat goes on"
        ):
            export(str(tmp_path), page_size=25)
        assert lease_of(str(tmp_path)).holder == "20260101T000000-0e1sewe0"  # never taken over
        holder.stdin.write("go\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "released"
        assert holder.wait(timeout=60) == 0
    finally:
        holder.kill()
    export(str(tmp_path), page_size=25)
    assert lease_of(str(tmp_path)).holder is None
    assert read_manifest(str(tmp_path))["version"] == 2
