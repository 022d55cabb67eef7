"""Fault soak: a five-day backfill under every fault at once loses and duplicates nothing, leaks nothing.

Also: an export killed with SIGKILL mid-walk and run again ends exactly like an undisturbed export.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from airflow_provider_akinon.exports import iter_export_records, read_manifest
from airflow_provider_akinon.testing import AkinonData, FakeAkinonServer
from tests.conftest import PASSWORD

DAGS = Path(__file__).parents[1] / "dags"
UTC = UTC
KEYS = {"orders": "id", "order_items": "pk", "discount_items": "pk"}


def test_five_day_backfill_under_faults_is_exact_and_leaks_no_secret(
    airflow_db, tmp_path, monkeypatch, capfd
):
    from airflow.models.dagbag import DagBag

    data = AkinonData(orders=900, start="2026-01-01", days=6, seed=5)
    with FakeAkinonServer(data, users={"akinon": PASSWORD}) as server:
        faults = server.faults
        faults.error_rate = 0.10  # 5xx with HTML bodies
        faults.throttle_every, faults.retry_after = 13, "0.05"
        faults.revoke_every = 29
        faults.latency_jitter = 0.003
        faults.mutate_every, faults.mutations = 3, 40  # inserts and modifications while paging
        monkeypatch.setenv(
            "AIRFLOW_CONN_AKINON_DEFAULT", server.connection_json(max_retries=10, page_size=15)
        )
        monkeypatch.setenv("AIRFLOW_VAR_AKINON_EXPORT_BASE", str(tmp_path / "lake"))
        dag = DagBag(str(DAGS)).dags["akinon_daily_export"]
        for day in range(1, 6):
            run_date = datetime(2026, 1, day, tzinfo=UTC) + timedelta(days=1)
            try:
                run = dag.test(logical_date=run_date)
            except TypeError:  # Airflow 2
                run = dag.test(execution_date=run_date)
            assert str(run.state).endswith("success"), (day, run.state)
            # ground truth right after the run: later walks may insert into this day again
            start, end = f"2026-01-0{day}T00:00:00", f"2026-01-0{day + 1}T00:00:00"
            for resource, key in KEYS.items():
                folder = str(tmp_path / "lake" / "akinon" / resource / f"date=2026-01-0{day}")
                got = [r[key] for r in iter_export_records(folder)]
                assert len(got) == len(set(got)), (resource, day, "duplicated")
                assert got == data.expected(resource, "created_date", start, end), (resource, day)
                assert read_manifest(folder)["records"] == len(got)
        assert server.log.faults["5xx"] > 10
        assert server.log.faults["429"] > 5
        assert server.log.faults["revoke"] > 3
        assert server.log.inserted
        assert len(server.issued) > 3
        secrets = [PASSWORD, server.api_token, *server.issued]

    out, err = capfd.readouterr()
    haystacks = {"task output": (out + err).encode()}
    home = Path(os.environ["AIRFLOW_HOME"])
    haystacks["metadata DB (XCom, task state)"] = b"".join(p.read_bytes() for p in home.glob("airflow.db*"))
    haystacks["task logs"] = b"".join(p.read_bytes() for p in home.rglob("*.log"))
    haystacks["exported files"] = b"".join(
        p.read_bytes() for p in (tmp_path / "lake").rglob("*") if p.is_file()
    )
    for where, blob in haystacks.items():
        for secret in secrets:
            assert secret.encode() not in blob, f"a secret leaked into {where}"


#: the export killed mid-walk, its retry, and the undisturbed export they must end like
EXPORT = {
    "task_id": "orders",
    "start": "2026-01-01",
    "end": "2026-01-04",
    "page_size": 10,
    "max_concurrency": 2,
    "max_file_bytes": 20_000,
}
KILLED_EXPORT = textwrap.dedent(
    """
    import json, sys
    from airflow_provider_akinon.operators.akinon import FetchOrdersOperator
    FetchOrdersOperator(destination=sys.argv[1], **json.loads(sys.argv[2])).execute({})
    """
)


def test_export_killed_mid_walk_and_retried_ends_like_an_undisturbed_one(akinon_default, tmp_path):
    from airflow_provider_akinon.operators.akinon import FetchOrdersOperator

    server = akinon_default
    target = tmp_path / "killed"
    server.faults.latency = 0.01
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_EXPORT, str(target), json.dumps(EXPORT)], env=os.environ.copy()
    )
    staging = target / "_akinon" / "staging"
    deadline = time.monotonic() + 120
    while not any(staging.rglob("*.jsonl")):  # the walk is under way and has written parts
        assert child.poll() is None, "the export finished before it could be killed"
        assert time.monotonic() < deadline, "the export never started writing"
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert not (target / "_manifest.json").exists()
    assert not list(target.glob("part-*"))

    server.faults.latency = 0
    then = (
        time.time() - 3600
    )  # the retry comes after Airflow's retry_delay: the killed run's heartbeat is old
    for path in staging.rglob("*"):
        os.utime(path, (then, then))
    FetchOrdersOperator(destination=str(target), **EXPORT).execute({})
    FetchOrdersOperator(destination=str(tmp_path / "clean"), **EXPORT).execute({})

    def listing(folder):
        return [(f["records"], f["sha256"]) for f in read_manifest(str(folder))["files"]]

    assert listing(target) == listing(tmp_path / "clean")
    # nothing but the export: the killed run's staging is gone, and only the manifest's parts are there
    names = {f["name"] for f in read_manifest(str(target))["files"]}
    assert {p.name for p in target.iterdir()} == {"_manifest.json", "_akinon", *names}
    assert not any(staging.iterdir())
    assert [r["id"] for r in iter_export_records(str(target))] == server.data.expected(
        "orders", "created_date", "2026-01-01T00:00:00", "2026-01-04T00:00:00"
    )
