"""The destination is shared, and a reader always finds a whole export: publish step by step, killed."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import time
import traceback

import pytest
from airflow.providers.common.compat.sdk import AirflowTaskTimeout

from airflow_provider_akinon.errors import DestinationError
from airflow_provider_akinon.exports import iter_export_records, read_manifest
from airflow_provider_akinon.exports.commit.lease import LEASE, STAGING, LeaseState
from airflow_provider_akinon.exports.commit.protocol import SUPERSEDED
from airflow_provider_akinon.exports.commit.store import LocalStore
from airflow_provider_akinon.operators.akinon import FetchOrdersOperator

DAY = {"start": "2026-01-02T00:00:00Z", "end": "2026-01-03T00:00:00Z"}


def export(destination, **kwargs):
    return FetchOrdersOperator(task_id="o", destination=str(destination), **{**DAY, **kwargs}).execute({})


def files(folder):
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.rglob("*")
        if p.is_file()
    }


def whole(folder):
    """The export a reader finds: its manifest, and every record of every file it lists."""
    manifest = read_manifest(str(folder))
    ids = [record["id"] for record in iter_export_records(str(folder))]
    assert len(ids) == manifest["records"]
    return manifest, ids


def test_an_export_beside_a_delta_table_is_refused_with_nothing_touched(akinon_default, tmp_path):
    table = tmp_path / "table"
    (table / "_delta_log").mkdir(parents=True)
    (table / "_delta_log" / "00000000000000000000.json").write_text("{}")
    (table / "part-00000-5d3e-c000.zstd.parquet").write_bytes(b"PAR1")
    before = files(table)
    with pytest.raises(DestinationError, match="holds a Delta table"):
        export(table)
    assert files(table) == before
    assert akinon_default.log.requests == 0


def test_an_export_beside_a_users_files_leaves_them_untouched(akinon_default, tmp_path):
    dest = tmp_path / "shared"
    dest.mkdir()
    (dest / "part-0001.csv").write_text("a user's file")
    (dest / "README").write_text("notes")
    export(dest, page_size=20, max_file_bytes=30_000)
    export(dest, page_size=50)  # a rerun replaces the export, and only it
    assert (dest / "part-0001.csv").read_text() == "a user's file"
    assert (dest / "README").read_text() == "notes"
    manifest, ids = whole(dest)
    listed = {f["name"] for f in manifest["files"]}
    assert {p.name for p in dest.iterdir()} == {
        "part-0001.csv",
        "README",
        "_manifest.json",
        "_akinon",
        *listed,
    }
    assert sorted(ids) == akinon_default.data.expected("orders", "created_date", *DAY.values())


def test_part_files_no_manifest_lists_are_refused_not_deleted(akinon_default, tmp_path):
    dest = tmp_path / "p"
    dest.mkdir()
    (dest / "part-00000.jsonl").write_text('{"id": 1}\n')  # named as this provider names parts
    with pytest.raises(DestinationError, match=r"no manifest of this provider lists \(part-00000.jsonl\)"):
        export(dest)
    assert (dest / "part-00000.jsonl").read_text() == '{"id": 1}\n'
    assert akinon_default.log.requests == 0


WRITES = ("create", "swap", "put", "delete", "touch", "place")


def publish_killed_at(
    destination, step: int, *, raise_instead: BaseException | None = None, **operator
) -> tuple[int, int]:
    """
    Export into ``destination`` in a forked child, SIGKILLed before write ``step`` of its publish (a write
    of the lease, the manifest, a part moved in, touched or moved out; its heartbeat's aside), or with
    ``raise_instead`` raised there; return its exit code (``-9`` when killed, 1 when it raised) and the
    writes it made.

    A fork, not a new interpreter: the child has everything imported already (a new one costs seconds).
    """
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: it never returns into pytest
        code = 1
        try:
            os.close(read)
            calls = []

            def count(real):
                def counted(self, key, *args, **kwargs):
                    if not key.endswith("_beat") and "/.write-" not in key:
                        calls.append(key)
                        if len(calls) == step:
                            if raise_instead is not None:
                                raise raise_instead
                            os.kill(os.getpid(), signal.SIGKILL)  # killed before this step of the publish
                    return real(self, key, *args, **kwargs)

                return counted

            for name in WRITES:
                setattr(LocalStore, name, count(getattr(LocalStore, name)))
            FetchOrdersOperator(
                task_id="o", destination=str(destination), start="2026-01-02", end="2026-01-03",
                page_size=10, max_file_bytes=60_000, max_concurrency=1, **operator,
            ).execute({})  # fmt: skip
            os.write(write, str(len(calls)).encode())
            code = 0
        except BaseException:
            traceback.print_exc()
            os.write(write, str(len(calls)).encode())
        finally:
            os._exit(code)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    with os.fdopen(read, "rb") as steps:
        taken = steps.read()
    return os.waitstatus_to_exitcode(status), int(taken or 0)


def tidy(dest):
    """The folder holds the export and nothing of a run beside it: its parts, its manifest, a free lease."""
    manifest, ids = whole(dest)
    listed = {f["name"] for f in manifest["files"]}
    assert {p.name for p in dest.iterdir()} - {"_akinon"} == {"_manifest.json", *listed}
    lease = LeaseState.decode((dest / LEASE).read_bytes())
    assert (lease.holder, lease.intent, lease.commit) == (None, None, None)
    assert not any((dest / STAGING).iterdir())
    return manifest, ids


def age_runs(dest, seconds=3600):
    """Age the heartbeats of the runs staged in ``dest``: what a retry finds after Airflow's retry_delay."""
    then = time.time() - seconds
    for path in (dest / STAGING).rglob("*"):
        os.utime(path, (then, then))


@pytest.mark.parametrize("fault", ["kill", "error", "timeout"])
def test_a_publish_stopped_at_any_step_leaves_a_whole_export_and_the_next_run_takes_over(
    akinon_default, tmp_path, fault
):
    """SIGKILL, an OSError from the store, or Airflow's execution_timeout, before each write of the publish:
    the intent, each part moved in, the commit, the manifest, each replaced part touched and moved out, the
    release. The previous export stood longer than ``superseded_retention``: wherever the stop, its part
    is kept in ``_akinon/superseded/`` for its readers, counted from its replacement."""
    server = akinon_default
    old = tmp_path / "old"
    export(old, page_size=25)  # the previous export: one part
    old_manifest, old_ids = whole(old)
    stood = time.time() - 7200  # two hours ago: older than the retention (an hour); copytree keeps it
    for entry in old_manifest["files"]:
        os.utime(old / entry["name"], (stood, stood))
    for order in range(3):  # the new export differs: three more orders in the window
        server.data.insert_order(created=1767312000.0 + 3600 * (order + 1))
    new_ids = sorted(server.data.expected("orders", "created_date", *DAY.values()))
    dest = tmp_path / "p"
    shutil.copytree(old, dest)
    code, steps = publish_killed_at(dest, 10_000)  # an undisturbed run counts the steps
    assert code == 0
    assert steps >= 8  # the lease taken, the intent, several parts, the commit, the manifest, the release...
    raised = {"kill": None, "error": OSError(5, "injected"), "timeout": AirflowTaskTimeout("Timeout")}[fault]
    seen, codes = set(), set()
    for step in range(1, steps + 1):
        shutil.rmtree(dest)
        shutil.copytree(old, dest)  # each stopped run replaces the previous export
        code, _ = publish_killed_at(dest, step, raise_instead=raised)
        _, ids = whole(dest)  # whatever the step, a whole export with its manifest
        assert sorted(ids) in (sorted(old_ids), new_ids)
        if fault == "kill":
            assert code == -signal.SIGKILL
        else:  # an error once the export is in place (releasing, tidying) fails no task
            assert code in (0, 1)
            assert code == 1 or sorted(ids) == new_ids
            codes.add(code)
        seen.add("new" if sorted(ids) == new_ids else "old")
        if (
            code == 1 and fault == "error"
        ):  # it rolled back on its way out (or left its commit to roll forward)
            assert LeaseState.decode((dest / LEASE).read_bytes()).holder is None
        age_runs(dest)  # the next run comes after retry_delay
        export(dest, page_size=25)
        _, ids = tidy(dest)
        assert sorted(ids) == new_ids
        kept = {p.name for p in (dest / SUPERSEDED).iterdir()}
        assert {f["name"] for f in old_manifest["files"]} <= kept, f"stopped at write {step}"
    assert seen == {"old", "new"}  # stops landed both before and after the commit
    # an error after the export is in place fails no task; Airflow's timeout always fails it
    assert codes == {"kill": set(), "error": {0, 1}, "timeout": {1}}[fault]
    assert old_manifest["records"] == len(old_ids)


def test_a_missing_bucket_is_refused_and_never_created(akinon_default, moto_s3):
    with pytest.raises(DestinationError, match="the bucket 'no-such-bucket' does not exist"):
        export("s3://aws_moto@no-such-bucket/akinon/orders/")
    assert "no-such-bucket" not in {b["Name"] for b in moto_s3.list_buckets()["Buckets"]}
    assert akinon_default.log.requests == 0


def test_a_full_disk_names_the_path(akinon_default, tmp_path, monkeypatch):
    from airflow_provider_akinon.exports.formats import parts as writers

    real_open = writers.PartWriter._open

    def open_on_a_full_disk(self):  # the part file's writes land on /dev/full: ENOSPC
        encoder = real_open(self)
        self._file.raw.close()
        self._file.raw = open("/dev/full", "wb", buffering=0)  # noqa: SIM115
        return encoder

    monkeypatch.setattr(writers.PartWriter, "_open", open_on_a_full_disk)
    before = files(tmp_path)
    with pytest.raises(DestinationError, match="no space left on the device") as err:
        export(tmp_path / "full")
    assert str(tmp_path / "full") in str(err.value)
    assert not (tmp_path / "full" / "_manifest.json").exists()
    assert files(tmp_path) == before
