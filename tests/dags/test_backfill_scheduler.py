"""A real Airflow 3 (scheduler, dag-processor, api-server, triggerer; LocalExecutor) backfills three days.

``airflow standalone`` runs in its own process group with the example DAGs; the fake Akinon server runs
in this test's process. Days 1 and 2 are closed (later orders exist), so their sensors pass at once; day 3
is the newest day of data, so its deferrable sensor waits in the triggerer until this test adds an order
of day 4. All three runs must succeed, and the nine exports must hold exactly the server's records.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from airflow_provider_akinon.exports.reader import iter_export_records
from airflow_provider_akinon.exports.target import read_manifest
from airflow_provider_akinon.testing import AkinonData, FakeAkinonServer
from airflow_provider_akinon.testing.data import parse_ts

pytestmark = [pytest.mark.scheduler, pytest.mark.timeout(900)]

airflow = pytest.importorskip("airflow")
if int(airflow.__version__.split(".")[0]) < 3:
    pytest.skip("the real-scheduler backfill test runs on Airflow 3", allow_module_level=True)

DAGS = Path(__file__).parents[2] / "dags"
DAG_ID = "akinon_daily_export"
DEADLINE = 420  # seconds for the whole scenario, then the test fails with the scheduler's log


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Standalone:
    """``airflow standalone`` in its own process group, with an isolated AIRFLOW_HOME."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home = home
        self.env = env
        self.log = home / "standalone.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "airflow", "standalone"],
            env=self.env,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def cli(self, *args: str, check: bool = True) -> str | None:
        done = subprocess.run(
            [sys.executable, "-m", "airflow", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        if not check:  # the caller retries: None until it succeeds
            return done.stdout if done.returncode == 0 else None
        assert done.returncode == 0, f"airflow {' '.join(args)}: {done.stdout}\n{done.stderr}"
        return done.stdout

    def query(self, sql: str, *params) -> list[tuple]:
        db = self.home / "airflow.db"
        if not db.exists():
            return []
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
            try:
                return conn.execute(sql, params).fetchall()
            except sqlite3.OperationalError:  # tables not created yet
                return []

    def stop(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=30)
        # standalone's components may outlive it: nothing of the group survives the test
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def tail(self, chars: int = 6000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def api_ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=5) as resp:
            return resp.status == 200
    except OSError:
        return False


def wait_for(what: str, check, standalone: Standalone, started: float, pause: float = 1.0):
    """Poll ``check`` until it returns a truthy value; fail with the scheduler log past the deadline."""
    print(f"[{time.monotonic() - started:5.0f}s] waiting for {what}", flush=True)
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() - started > DEADLINE or (standalone.proc and standalone.proc.poll() is not None):
            pytest.fail(f"timed out waiting for {what}\n--- airflow standalone log ---\n{standalone.tail()}")
        time.sleep(pause)  # polling a condition, not synchronising on time


def test_backfill_of_three_days_with_a_real_scheduler(tmp_path):
    data = AkinonData(orders=300, start="2026-01-01", days=3, seed=11)
    home, base = tmp_path / "airflow", tmp_path / "exports"
    home.mkdir()
    port = free_port()
    with FakeAkinonServer(data) as server:
        env = {
            **os.environ,
            # standalone starts its components as ``airflow ...``: this venv's bin must come first
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            # the log servers' fixed default ports (8793, 8794) may be taken on a shared machine
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "5",
            "AIRFLOW_CONN_AKINON_DEFAULT": server.connection_json(),
            "AIRFLOW_VAR_AKINON_EXPORT_BASE": str(base),
            "AKINON_POLL_SECONDS": "1",
        }
        # SQLite admits one writer at a time, and a CLI write racing the scheduler can fail at once with
        # "database is locked". So every write but one happens before the scheduler starts, with the
        # pool closed (0 slots): no task may start before the API server answers, as tasks reach Airflow
        # through it. Opening the pool is the one write made while the scheduler runs; it is idempotent
        # and retried.
        standalone = Standalone(home, env)
        started = time.monotonic()
        standalone.cli("db", "migrate")
        standalone.cli("pools", "set", "akinon_api", "0", "Akinon API")
        standalone.cli("dags", "reserialize")
        standalone.cli("dags", "unpause", DAG_ID)
        standalone.cli(
            "backfill", "create", "--dag-id", DAG_ID, "--from-date", "2026-01-01", "--to-date", "2026-01-03"
        )
        standalone.start()
        try:
            wait_for("the API server", lambda: api_ready(port), standalone, started)
            wait_for(
                "the pool to open",
                lambda: standalone.cli("pools", "set", "akinon_api", "4", "Akinon API", check=False),
                standalone,
                started,
            )

            def day3_sensor_deferred():
                return standalone.query(
                    "SELECT ti.state FROM task_instance ti JOIN dag_run r ON r.run_id = ti.run_id "
                    "AND r.dag_id = ti.dag_id WHERE ti.dag_id = ? AND ti.task_id = 'wait_for_day_to_close' "
                    "AND ti.state = 'deferred' AND r.data_interval_start LIKE '2026-01-03%'",
                    DAG_ID,
                )

            wait_for("the day-3 sensor to defer to the triggerer", day3_sensor_deferred, standalone, started)
            # Let the scheduler see the deferring process exit before the trigger fires: Airflow 3.3
            # marks a task resumed within that same scheduler loop as "changed externally".
            deferral_exit = (
                "Received executor event with state success for task instance TaskInstanceKey("
                f"dag_id='{DAG_ID}', task_id='wait_for_day_to_close', run_id='backfill__2026-01-04"
            )
            wait_for(
                "the scheduler to see the deferral",
                lambda: deferral_exit in standalone.tail(2_000_000),
                standalone,
                started,
            )
            server.data.insert_order(created=parse_ts("2026-01-04T00:30:00"))  # the day closes

            def runs_finished():
                # unpausing also schedules today's interval (catchup=False); only the backfill counts
                rows = standalone.query(
                    "SELECT state FROM dag_run WHERE dag_id = ? AND run_type = 'backfill'", DAG_ID
                )
                return rows if len(rows) == 3 and all(s in ("success", "failed") for (s,) in rows) else None

            states = wait_for("the three backfill runs", runs_finished, standalone, started)
            assert sorted(s for (s,) in states) == ["success"] * 3, standalone.tail()
            # day 3's sensor succeeded in its first try: through the triggerer, not a retry
            assert standalone.query(
                "SELECT ti.try_number FROM task_instance ti JOIN dag_run r ON r.run_id = ti.run_id "
                "AND r.dag_id = ti.dag_id WHERE ti.dag_id = ? AND ti.task_id = 'wait_for_day_to_close' "
                "AND r.data_interval_start LIKE '2026-01-03%'",
                DAG_ID,
            ) == [(1,)]
        finally:
            standalone.stop()

    for day in (1, 2, 3):
        start, end = f"2026-01-0{day}T00:00:00", f"2026-01-0{day + 1}T00:00:00"
        for resource, key in (("orders", "id"), ("order_items", "pk"), ("discount_items", "pk")):
            folder = str(base / "akinon" / resource / f"date=2026-01-0{day}")
            got = [r[key] for r in iter_export_records(folder)]
            expected = data.expected(resource, "created_date", start, end)
            assert got == expected, (resource, day)
            assert read_manifest(folder)["records"] == len(expected) > 0
    assert json.loads((base / "akinon" / "orders" / "date=2026-01-03" / "_manifest.json").read_text())[
        "window"
    ] == {
        "start": "2026-01-03T00:00:00.000000Z",
        "end": "2026-01-04T00:00:00.000000Z",
    }
