"""Scale-out on Airflow 3's Celery executor: two workers, a real Redis broker, one worker killed mid-export.

Redis (broker and result backend), an API server, a scheduler, a dag-processor, a triggerer and two Celery
workers (``worker-1``, ``worker-2``) run as separate processes. The metadata DB is SQLite, and that holds
here: Airflow 3 workers never touch the DB (task processes talk to the API server), so its writers are
the same four components as in ``airflow standalone``; Redis is the result backend, so Celery does not
write to it either. Production deployments use PostgreSQL.

A four-day backfill of ``akinon_daily_export`` runs on both workers. While worker-1 exports a partition and
has written part of it, its whole process group is killed with SIGKILL (a machine lost); the scheduler
sees the task's heartbeat stop and retries it on worker-2. Every run must succeed, tasks must have run on
both workers, and the 18 exports must equal the server's records, byte for byte what ``dag.test()``
exports for the same windows, with no staging left behind.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from airflow_provider_akinon.exports import iter_export_records, read_manifest
from airflow_provider_akinon.exports.commit.lease import STAGING
from airflow_provider_akinon.testing import AkinonData
from tests.deployment import (
    DAGS,
    Deployment,
    api_ready,
    celery_env,
    free_port,
    on_fake_tenant,
)

pytestmark = [pytest.mark.scheduler, pytest.mark.timeout(900)]

airflow = pytest.importorskip("airflow")
if int(airflow.__version__.split(".")[0]) < 3:
    pytest.skip("the Celery deployment test runs on Airflow 3", allow_module_level=True)
pytest.importorskip(
    "airflow.providers.celery", reason="needs apache-airflow-providers-celery (the test extra)"
)
REDIS = shutil.which("redis-server")
if REDIS is None:
    pytest.skip("needs redis-server: `make test` installs Debian's redis-server", allow_module_level=True)

DAG_ID = "akinon_daily_export"
DAYS = [f"2026-01-0{day}" for day in range(1, 5)]
RESOURCES = {"orders": "id", "order_items": "pk", "discount_items": "pk"}
WORKERS = ("worker-1", "worker-2")


def partition(base: Path, resource: str, day: str) -> Path:
    return base / "akinon" / resource / f"date={day}"


def listing(folder: Path) -> list[tuple]:
    return [(f["records"], f["sha256"]) for f in read_manifest(str(folder))["files"]]  # names: the run's own


def test_four_day_backfill_on_two_celery_workers_survives_a_killed_worker(tmp_path, airflow_db, monkeypatch):
    data = AkinonData(orders=5 * 40, start="2026-01-01", days=5, seed=23)  # day 5 closes day 4
    redis_port = free_port()
    celery = celery_env(
        redis_port, results=f"redis://127.0.0.1:{redis_port}/1", heartbeat_timeout=20, queued_timeout=30
    )
    with on_fake_tenant(
        tmp_path,
        data,
        connection={"page_size": 5},
        deadline=600,
        **celery,
        AKINON_POLL_SECONDS="1",
        AKINON_RETRY_DELAY_SECONDS="1",
        # the retry, on worker-2, removes the killed run's staging once its heartbeat is this old
        AIRFLOW__AKINON__PUBLISH_LEASE_TIMEOUT="5",
    ) as (deployment, server, base, port):
        server.faults.latency = 0.08  # exports take seconds: one can be caught half written
        # every DB write before the scheduler starts (SQLite), the pool closed until the API answers
        backfill = ("backfill", "create", "--dag-id", DAG_ID, "--from-date", DAYS[0], "--to-date", DAYS[-1])
        deployment.prepare(DAG_ID, pool_slots=0, then=(backfill,))
        deployment.start(
            "redis",
            REDIS,
            "--port",
            str(redis_port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
            str(deployment.home),
        )
        for component in ("api-server", "scheduler", "dag-processor", "triggerer"):
            deployment.start(component, component)
        for name in WORKERS:
            deployment.start(
                name,
                "celery", "worker", "--celery-hostname", f"{name}@%h", "--concurrency", "2", "--skip-serve-logs",
                env={"AKINON_WORKER_NAME": name},
            )  # fmt: skip
        try:
            deployment.wait_for("the API server", lambda: api_ready(port))
            deployment.wait_for(
                "the pool to open",
                lambda: deployment.cli("pools", "set", "akinon_api", "4", "Akinon API", check=False),
            )
            killed = deployment.wait_for(
                "an export half written by worker-1", lambda: half_written(deployment, base)
            )
            deployment.kill("worker-1")
            server.faults.latency = 0.0

            def backfill_done():
                rows = deployment.query(
                    "SELECT state FROM dag_run WHERE dag_id = ? AND run_type = 'backfill'", DAG_ID
                )
                return (
                    rows
                    if len(rows) == len(DAYS) and all(s in ("success", "failed") for (s,) in rows)
                    else None
                )

            states = deployment.wait_for("the four backfill runs", backfill_done)
            assert sorted(s for (s,) in states) == ["success"] * len(DAYS), deployment.logs()
            hosts = dict(
                deployment.query(
                    "SELECT ti.hostname, COUNT(*) FROM task_instance ti JOIN dag_run r ON r.run_id = ti.run_id "
                    "AND r.dag_id = ti.dag_id WHERE ti.dag_id = ? AND r.run_type = 'backfill' GROUP BY ti.hostname",
                    DAG_ID,
                )
            )
            retried = deployment.query(
                "SELECT ti.try_number, ti.hostname, ti.state FROM task_instance ti JOIN dag_run r "
                "ON r.run_id = ti.run_id AND r.dag_id = ti.dag_id WHERE ti.dag_id = ? AND ti.task_id = ? "
                "AND r.data_interval_start LIKE ?",
                DAG_ID,
                killed["task_id"],
                f"{killed['day']}%",
            )
            deployment.assert_clean_task_logs()
        finally:
            deployment.stop()

        assert set(hosts) == set(WORKERS), hosts  # both workers ran tasks
        assert retried == [(2, "worker-2", "success")], retried  # the killed export, retried on worker-2

        # the same windows through dag.test(), in this process: the reference bytes
        reference = tmp_path / "reference"
        monkeypatch.setenv("AIRFLOW_CONN_AKINON_DEFAULT", server.connection_json(page_size=5))
        monkeypatch.setenv("AIRFLOW_VAR_AKINON_EXPORT_BASE", str(reference))
        run_reference(DAYS)

    for day in DAYS:
        start = f"{day}T00:00:00"
        end = (datetime.fromisoformat(day) + timedelta(days=1)).strftime("%Y-%m-%dT00:00:00")
        for resource, key in RESOURCES.items():
            folder = partition(base, resource, day)
            got = [record[key] for record in iter_export_records(str(folder))]
            assert got == data.expected(resource, "created_date", start, end), (resource, day)
            assert listing(folder) == listing(partition(reference, resource, day)), (resource, day)
            staging = folder / STAGING
            assert not staging.exists() or not any(staging.iterdir()), f"staging left in {folder}"


def half_written(deployment: Deployment, base: Path) -> dict | None:
    """An export task running on worker-1 whose staging already holds a part file."""
    rows = deployment.query(
        "SELECT ti.task_id, r.data_interval_start FROM task_instance ti JOIN dag_run r ON r.run_id = ti.run_id "
        "AND r.dag_id = ti.dag_id WHERE ti.dag_id = ? AND ti.state = 'running' AND ti.hostname = 'worker-1' "
        "AND ti.task_id LIKE 'export_%'",
        DAG_ID,
    )
    for task_id, interval_start in rows:
        day = str(interval_start)[:10]
        staging = partition(base, task_id.removeprefix("export_"), day) / STAGING
        if any(staging.glob("*/s*.*")):
            return {"task_id": task_id, "day": day}
    return None


def run_reference(days: list[str]) -> None:
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # pragma: no cover - Airflow 3.0
        from airflow.models.dagbag import DagBag

    dag = DagBag(str(DAGS)).dags[DAG_ID]
    for day in days:
        run = dag.test(logical_date=datetime.fromisoformat(day).replace(tzinfo=UTC) + timedelta(days=1))
        assert str(run.state).endswith("success"), (day, run.state)
