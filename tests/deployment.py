"""Real Airflow deployments for tests: components as processes in their own process groups, one home.

Used by the real-scheduler tests (LocalExecutor, Celery, Airflow 2.11). Everything listens on loopback
and free ports; :meth:`Deployment.stop` kills every process group it started, stragglers included.
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
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

DAGS = Path(__file__).parents[1] / "dags"
ROOT = Path(__file__).parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def worker_hostname() -> str:
    """``[core] hostname_callable`` of the test workers: each reports its own name in task instances."""
    return os.environ.get("AKINON_WORKER_NAME") or socket.getfqdn()


def base_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of every component: an isolated home, SQLite, the example DAGs, loopback only."""
    return {
        **os.environ,
        # components start other components as ``airflow ...``: this venv's bin comes first
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # the tests read the components' logs: at INFO, whatever the calling process was set to
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__CORE__FERNET_KEY": "VXxIkaL6jlRV8dGuTb2Pvb2Hp3o3m6Skjvdh8-3m-hA=",
        "AIRFLOW__API_AUTH__JWT_SECRET": "akinon-test-jwt-secret-0123456789abcdef",
        "AIRFLOW__API__SECRET_KEY": "akinon-test-secret-key",
        "AIRFLOW__WEBSERVER__SECRET_KEY": "akinon-test-secret-key",
        # the log servers' fixed default ports may be taken on a shared machine
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "5",  # Airflow 2; 3 reads [dag_processor]
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
        "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",  # two cores: the components need them more
        # the example DAGs' tasks run in the pool AKINON_POOL names: the tests gate them with its slots
        "AKINON_POOL": "akinon_api",
        **extra,
    }


def api_server_env(port: int) -> dict[str, str]:
    """Airflow 3: the API server on loopback at ``port``, and the task processes told where it is."""
    return {
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        # moved from its default port, it must be named, or every task fails with "connection refused"
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
    }


def celery_env(
    redis_port: int, *, results: str, heartbeat_timeout: int, queued_timeout: int
) -> dict[str, str]:
    """
    The CeleryExecutor with Redis on ``redis_port`` as its broker and ``results`` as its result backend;
    a worker that dies is noticed after ``heartbeat_timeout`` seconds, and the tasks it had reserved but
    not started go back to the queue after ``queued_timeout``.
    """
    return {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{redis_port}/0",
        "AIRFLOW__CELERY__RESULT_BACKEND": results,
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "tests.deployment.worker_hostname",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(heartbeat_timeout),
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": str(queued_timeout),
        "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": "10",
    }


@contextlib.contextmanager
def on_fake_tenant(
    tmp_path: Path,
    data: Any,
    *,
    api_server: bool = True,
    connection: dict | None = None,
    deadline: float = 420,
    **extra: str,
) -> Iterator[tuple[Deployment, Any, Path, int]]:
    """
    A deployment under ``tmp_path`` whose example DAGs export from a fake tenant serving ``data`` into a
    folder: the :class:`Deployment` (not started), the server, the exports' folder and the API server's
    port (Airflow 3; ``api_server=False`` on Airflow 2). ``connection``: the connection's settings.
    """
    from airflow_provider_akinon.testing import FakeAkinonServer

    home, base = tmp_path / "airflow", tmp_path / "exports"
    home.mkdir()
    port = free_port()
    with FakeAkinonServer(data) as server:
        env = base_env(
            home,
            **(api_server_env(port) if api_server else {}),
            AIRFLOW_CONN_AKINON_DEFAULT=server.connection_json(**(connection or {})),
            AIRFLOW_VAR_AKINON_EXPORT_BASE=str(base),
            **extra,
        )
        yield Deployment(home, env, deadline=deadline), server, base, port


#: Airflow CLI commands in one process: each ``airflow`` start costs about ten seconds of imports here.
CLI_MANY = """
import json, sys
from airflow.cli import cli_parser
try:
    from airflow.configuration import write_default_airflow_configuration_if_needed
    write_default_airflow_configuration_if_needed()
except ImportError:  # Airflow 2 writes it on import
    pass
parser = cli_parser.get_parser()
for argv in json.loads(sys.argv[1]):
    print("== airflow", *argv, flush=True)
    args = parser.parse_args(argv)
    args.func(args)
"""


class Deployment:
    """Airflow components (and their helpers, such as Redis) as process groups sharing one home."""

    def __init__(
        self, home: Path, env: dict[str, str], *, deadline: float = 420, database: Any = None
    ) -> None:
        self.home = home
        self.env = env
        self.deadline = deadline
        self.database = database  # a tests.support.postgres.Postgres holding database "airflow"; else SQLite
        self.started = time.monotonic()
        self.procs: dict[str, subprocess.Popen] = {}
        self.commands: dict[str, tuple[tuple[str, ...], dict[str, Any] | None]] = {}
        self.killed: set[str] = set()

    def cli(self, *args: str, check: bool = True, timeout: float = 180) -> str | None:
        done = subprocess.run(
            [sys.executable, "-m", "airflow", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if not check:  # the caller retries: None until it succeeds
            return done.stdout if done.returncode == 0 else None
        assert done.returncode == 0, f"airflow {' '.join(args)}: {done.stdout}\n{done.stderr}"
        return done.stdout

    def cli_many(self, *commands: tuple[str, ...], timeout: float = 300) -> None:
        """Run Airflow CLI ``commands`` in order, in one process; fail with its output if one fails."""
        done = subprocess.run(
            [sys.executable, "-c", CLI_MANY, json.dumps(commands)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, f"airflow CLI: {done.stdout[-4000:]}\n{done.stderr[-4000:]}"

    def prepare(
        self,
        dag_id: str,
        *,
        pool_slots: int,
        reserialize: bool = True,
        then: tuple[tuple[str, ...], ...] = (),
    ) -> None:
        """Every DB write before the components start (SQLite takes one writer at a time), ``then`` too."""
        self.cli_many(
            ("db", "migrate"),
            ("pools", "set", "akinon_api", str(pool_slots), "Akinon API"),
            *([("dags", "reserialize")] if reserialize else []),
            ("dags", "unpause", dag_id),
            *then,
        )

    def start(self, name: str, *command: str, env: dict[str, Any] | None = None) -> subprocess.Popen:
        """Start ``command`` (``airflow ...`` when it starts with a component name) as group ``name``."""
        argv = list(command) if command[0].startswith("/") else [sys.executable, "-m", "airflow", *command]
        log = (self.home / f"{name}.log").open("ab")  # a restarted component's log goes on
        proc = subprocess.Popen(
            argv,
            env={**self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs[name] = proc
        self.commands[name] = (command, env)
        self.killed.discard(name)
        return proc

    def restart(self, name: str) -> subprocess.Popen:
        """Start ``name`` again as it was started (a supervisor's restart)."""
        command, env = self.commands[name]
        return self.start(name, *command, env=env)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Kill the whole process group of ``name`` (a component and every child it started)."""
        proc = self.procs[name]
        self.killed.add(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=30)

    def stop(self) -> None:
        for name in list(self.procs):
            self.kill(name, signal.SIGTERM)
        for name in list(self.procs):
            self.kill(name, signal.SIGKILL)  # stragglers of each group too

    def log(self, name: str, chars: int = 4000) -> str:
        path = self.home / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def logs(self, first: Sequence[str] = ()) -> str:
        """Every component's log tail, ``first`` (the ones that exited) at the top: CI shows a failure's head."""
        names = [*first, *(name for name in self.procs if name not in first)]
        return "\n".join(f"--- {name} ---\n{self.log(name)}" for name in names)

    def task_logs(self) -> dict[str, str]:
        """Every task log the components wrote, by path: what a person reads in the UI."""
        return {
            str(path.relative_to(self.home)): path.read_text(errors="replace")
            for path in sorted((self.home / "logs").rglob("*.log"))
        }

    def assert_clean_task_logs(self) -> None:
        """No task log warns about masking a short secret (the connection form saved no defaults)."""
        logs = self.task_logs()
        assert logs, "no task log was written"
        for path, text in logs.items():
            assert "Skipping masking" not in text, path

    def query(self, sql: str, *params: Any) -> list[tuple]:
        if self.database is not None:
            return self._query_postgres(sql.replace("?", "%s"), params)
        db = self.home / "airflow.db"
        if not db.exists():
            return []
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
            try:
                return conn.execute(sql, params).fetchall()
            except sqlite3.OperationalError:  # tables not created yet, or busy
                return []

    def _query_postgres(self, sql: str, params: tuple) -> list[tuple]:
        import psycopg2

        try:
            with contextlib.closing(self.database.connect("airflow")) as conn, conn.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall()
        except psycopg2.Error:  # tables not created yet
            return []

    def wait_for(self, what: str, check: Callable[[], Any], pause: float = 1.0) -> Any:
        """Poll ``check`` until truthy; fail with the components' logs past the deadline or on a crash."""
        print(f"[{time.monotonic() - self.started:5.0f}s] waiting for {what}", flush=True)
        while True:
            value = check()
            if value:
                return value
            crashed = [n for n, p in self.procs.items() if p.poll() is not None and n not in self.killed]
            if time.monotonic() - self.started > self.deadline or crashed:
                pytest.fail(f"timed out waiting for {what} (exited: {crashed})\n{self.logs(crashed)}")
            time.sleep(pause)  # polling a condition, not synchronising on time


def assert_daily_partitions(base: Path, data: Any, days: range) -> None:
    """Each day's orders, items and discounts partition holds exactly the server's records, and says so."""
    from airflow_provider_akinon.exports import iter_export_records, read_manifest

    for day in days:
        start, end = f"2026-01-0{day}T00:00:00", f"2026-01-0{day + 1}T00:00:00"
        for resource, key in (("orders", "id"), ("order_items", "pk"), ("discount_items", "pk")):
            folder = str(base / "akinon" / resource / f"date=2026-01-0{day}")
            got = [r[key] for r in iter_export_records(folder)]
            expected = data.expected(resource, "created_date", start, end)
            assert got == expected, (resource, day)
            assert read_manifest(folder)["records"] == len(expected) > 0


def api_ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=5) as resp:
            return resp.status == 200
    except OSError:
        return False
