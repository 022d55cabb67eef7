"""The chaos soak (#23): a whole deployment SIGKILLed at random while backfills, changes and events run.

One deployment on this machine, every part real: Airflow 3 on the CeleryExecutor (two workers, the
scheduler, the DAG processor, the triggerer, the API server) with PostgreSQL as its metadata database and
Redis as its broker; the Django REST Framework tenant on PostgreSQL (two web workers sharing a port, and
the shop writing new orders, updates and deletions throughout); moto's S3 server behind a front that can
be killed. The example DAGs run at once: ``akinon_daily_export`` backfilled over ``AKINON_SOAK_DAYS``
days (Parquet into S3), ``akinon_order_changes`` every two minutes merging into a Delta table on S3
(with deletions), and the event-driven ``akinon_new_orders_events``.

For ``AKINON_SOAK_MINUTES`` (``make soak``: 20 and 14 days; ``make test``: 1 and 4 days, a smoke of it) a seeded loop (``AKINON_SOAK_SEED``
replays one) SIGKILLs one random component's whole process group every 5-20 s and restarts it 1-15 s
later. Then the shop closes and the deployment gets a bounded time to finish every run by itself. Then:
every daily partition equals the tenant's records of its day (each order a version that existed), the
Delta table's live rows equal the tenant's orders, every new order was exported by exactly one event
run, no staging, held lease or stray part is left in the bucket, and no secret is in any task log or file.
The soak prints a table of what it did; a failing soak prints its seed, its kill log and the first broken
invariant.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.deployment import Deployment, api_ready, api_server_env, base_env, celery_env, free_port
from tests.soak.chaos import Chaos
from tests.soak.checks import (
    Bucket,
    Tally,
    check_current,
    check_daily,
    check_events,
    check_secrets,
    check_tidy,
)
from tests.soak.report import report

MINUTES = float(os.environ.get("AKINON_SOAK_MINUTES", "1"))
SEED = int(os.environ.get("AKINON_SOAK_SEED") or random.SystemRandom().randrange(1_000_000))
DAYS = int(os.environ.get("AKINON_SOAK_DAYS", "4"))
EVERY = 2  # minutes: the changes feed's interval
DRAIN = 60 * float(os.environ.get("AKINON_SOAK_DRAIN_MINUTES", "10"))
DAGS = ("akinon_daily_export", "akinon_order_changes", "akinon_new_orders_events")
BUCKET, PREFIX = "soak", "lake"
CHAOS = (
    "worker-1", "worker-2", "scheduler", "dag-processor", "triggerer", "api-server", "redis", "s3",
    "tenant-web-1", "tenant-web-2",
)  # fmt: skip

pytestmark = [pytest.mark.soak, pytest.mark.scheduler, pytest.mark.timeout(int(60 * (MINUTES + 35)))]

airflow = pytest.importorskip("airflow")
if int(airflow.__version__.split(".")[0]) < 3:
    pytest.skip("the soak runs Airflow 3 (CeleryExecutor, event-driven DAGs)", allow_module_level=True)
pytest.importorskip(
    "airflow.providers.celery", reason="needs apache-airflow-providers-celery (the test extra)"
)
pytest.importorskip("deltalake")
pytest.importorskip("psycopg2")
REDIS = shutil.which("redis-server")
if REDIS is None:
    pytest.skip("needs redis-server: `make test` installs Debian's redis-server", allow_module_level=True)


def test_chaos_soak_loses_and_doubles_nothing(tmp_path, monkeypatch):
    from tests.support.postgres import postgres

    print(f"\nchaos soak: seed {SEED}, {MINUTES} minutes of chaos, {DAYS} days backfilled", flush=True)
    home = tmp_path / "airflow"
    home.mkdir()
    with postgres(free_port(), "airflow", "tenant") as pg:
        tenant_db = pg.url("tenant", driver="postgresql")
        web_port, s3_port, moto_port, api_port, redis_port = (free_port() for _ in range(5))
        tenant_url = f"http://127.0.0.1:{web_port}"
        aws = {
            "conn_type": "aws",
            "login": "testing",
            "password": "testing",
            "extra": {"endpoint_url": f"http://127.0.0.1:{s3_port}", "region_name": "us-east-1"},
        }
        since = datetime.now(UTC).replace(second=0, microsecond=0)
        since -= timedelta(minutes=since.minute % EVERY)  # the changes feed starts at an interval's start
        env = base_env(
            home,
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=pg.url("airflow"),
            **celery_env(
                redis_port, results=f"db+{pg.url('airflow')}", heartbeat_timeout=30, queued_timeout=60
            ),
            **api_server_env(api_port),
            AIRFLOW__API__WORKERS="1",
            AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL="15",
            AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD="30",
            AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD="15",
            AIRFLOW_CONN_AKINON_DEFAULT=tenant_connection(tenant_url),
            AIRFLOW_CONN_AWS_DEFAULT=json.dumps(aws),
            AIRFLOW_VAR_AKINON_EXPORT_BASE=f"s3://aws_default@{BUCKET}/{PREFIX}",
            AKINON_POLL_SECONDS="2",
            AKINON_EVENTS_POLL_SECONDS="2",
            AKINON_RETRIES="10",
            AKINON_RETRY_DELAY_SECONDS="5",
            AKINON_CHANGES_MINUTES=str(EVERY),
            AKINON_CHANGES_SINCE=since.isoformat(),
            AIRFLOW__AKINON__PUBLISH_LEASE_TIMEOUT="10",
            DRF_TENANT_DATABASE=tenant_db,
            DRF_TENANT_THROTTLE="500/s",
        )
        deployment = Deployment(home, env, deadline=60 * (MINUTES + 30), database=pg)
        try:
            run_soak(
                deployment, home, pg, since, web_port, s3_port, moto_port, api_port, redis_port, monkeypatch
            )
        finally:
            deployment.stop()


def run_soak(deployment, home, pg, since, web_port, s3_port, moto_port, api_port, redis_port, monkeypatch):
    import boto3

    from tests.drf_tenant.tenant import Tenant

    python = sys.executable
    tenant = Tenant(f"http://127.0.0.1:{web_port}", pg.url("tenant", driver="postgresql"), None)
    today = datetime.now(UTC).date()
    days = [str(today - timedelta(days=n)) for n in range(DAYS, 0, -1)]
    # the tenant: DAYS + 2 days of orders up to this hour, then the shop's writes
    setup = subprocess.run(
        [python, "-m", "tests.drf_tenant.serve", "--role", "setup", "--orders", str(30 * (DAYS + 2)), "--days", str(DAYS + 2), "--until", "0"],
        env=deployment.env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert setup.returncode == 0, setup.stderr[-3000:]
    for name in ("tenant-web-1", "tenant-web-2"):
        deployment.start(
            name, python, "-m", "tests.drf_tenant.serve", "--role", "web", "--port", str(web_port)
        )
    deployment.wait_for("the tenant", lambda: answers(f"{tenant.url}/_requests"))
    deployment.start("moto", python, "-m", "tests.support.s3_server", "-p", str(moto_port))
    deployment.start("s3", python, "-m", "tests.soak.proxy", str(s3_port), str(moto_port))
    client = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{moto_port}",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    deployment.wait_for("moto", lambda: bucket_created(client))
    bucket = Bucket(client, BUCKET, PREFIX)

    # the current state before the changes feed starts: one merge, in this process, before any chaos
    direct = {**json.loads(deployment.env["AIRFLOW_CONN_AWS_DEFAULT"])}
    direct["extra"] = {**direct["extra"], "endpoint_url": f"http://127.0.0.1:{moto_port}"}
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(direct))
    monkeypatch.setenv("AIRFLOW_CONN_AKINON_DEFAULT", deployment.env["AIRFLOW_CONN_AKINON_DEFAULT"])
    load_current_state(bucket, since)

    deployment.cli_many(
        ("db", "migrate"),
        ("pools", "set", "akinon_api", "4", "Akinon API"),
        ("dags", "reserialize"),
        *(("dags", "unpause", dag_id) for dag_id in DAGS),
        ("backfill", "create", "--dag-id", DAGS[0], "--from-date", days[0], "--to-date", days[-1],
         "--dag-run-conf", json.dumps({"file_format": "parquet"})),
    )  # fmt: skip
    deployment.start("redis", REDIS, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                     "--appendonly", "yes", "--dir", str(home))  # fmt: skip
    for component in ("api-server", "scheduler", "dag-processor", "triggerer"):
        deployment.start(component, component)
    for name in ("worker-1", "worker-2"):
        deployment.start(
            name,
            "celery", "worker", "--celery-hostname", f"{name}@%h", "--concurrency", "2", "--skip-serve-logs",
            env={"AKINON_WORKER_NAME": name},
        )  # fmt: skip
    deployment.wait_for("the API server", lambda: api_ready(api_port))
    deployment.start(
        "tenant-writer", python, "-m", "tests.drf_tenant.serve", "--role", "writer",
        "--inserts", "0.4", "--updates", "1", "--deletes", "0.05", "--delete-recent", "10",
    )  # fmt: skip

    # the watcher's first watermark: the orders after it are the ones an event run must export. It is
    # waited for before the chaos, so that a slow machine's chaos cannot keep the watcher from starting
    watching = re.compile(r"Watching orders of akinon_default after id (\d+)")
    deployment.wait_for("the event watcher", lambda: watching.search(deployment.log("triggerer", 10**8)))
    chaos = Chaos(deployment.kill, deployment.restart, CHAOS, SEED)
    chaos.run(60 * MINUTES)
    stopped_chaos = time.monotonic()
    deployment.kill("tenant-writer", sig=10)  # SIGUSR1: the shop closes, the API stays
    deployment.wait_for("the shop to close", lambda: "STOPPED" in deployment.log("tenant-writer"))
    closed = datetime.now(UTC)

    drained = drain(deployment, bucket, tenant, days, closed, chaos)
    last_finish = drained - (chaos.last_kill or stopped_chaos)
    for name in ("worker-1", "worker-2", "scheduler", "dag-processor", "triggerer", "api-server"):
        deployment.kill(name)

    after = int(watching.search(deployment.log("triggerer", 10**8))[1])
    tally = Tally()
    check_daily(bucket, tenant, days, tally)
    check_current(current_orders(bucket), tenant, tally)
    event_runs = check_events(bucket, tenant, after, tally)
    tidy = check_tidy(bucket, tally, ("akinon/orders/", "akinon/order_items/", "akinon/discount_items/",
                                      "akinon/changes/", "akinon/events/"))  # fmt: skip
    texts = {path: text.encode() for path, text in deployment.task_logs().items()}
    texts.update({key: bucket.read(key) for key in bucket.keys("akinon/") if "/current/" not in key})
    token = [key for (key,) in tenant_tokens(pg)]
    scanned = check_secrets(texts, ["s3cret-Pa55", *token], tally)
    try:
        table = report(deployment, DAGS, chaos, tally, tidy, event_runs, last_finish, scanned, since, closed)
    except Exception as error:  # the checks above must still be told
        table = (
            f"(no table: {error!r}; exported {tally.exported}, lost {tally.lost}, doubled {tally.doubled})"
        )
    print(table, flush=True)
    (Path(os.environ.get("AKINON_SOAK_REPORT", home / "soak.md"))).write_text(table)
    if tally.broken:
        pytest.fail(
            f"the soak broke an invariant (seed {SEED}; replay: AKINON_SOAK_SEED={SEED} make soak)\n"
            f"first broken: {tally.broken[0]}\nall: {tally.broken[:20]}\nkills:\n" + "\n".join(chaos.log)
        )


def drain(deployment, bucket, tenant, days, closed, chaos) -> float:
    """Wait (bounded) until every run finished by itself; fail with the kill log if one failed or time ran out."""
    deadline = time.monotonic() + DRAIN
    newest = max(key for (key,) in tenant.rows("orders", "id"))

    def failed() -> list[tuple]:
        return deployment.query(
            "SELECT dag_id, run_id FROM dag_run WHERE state = 'failed' AND dag_id IN (?, ?, ?)", *DAGS
        )

    def pending() -> list[str]:
        daily = deployment.query(
            "SELECT state FROM dag_run WHERE dag_id = ? AND run_type = 'backfill'", DAGS[0]
        )
        changes = deployment.query("SELECT state, data_interval_end FROM dag_run WHERE dag_id = ?", DAGS[1])
        waiting = []
        if len(daily) < len(days) or any(s != "success" for (s,) in daily):
            waiting.append(f"daily backfill: {sorted(s for (s,) in daily)}")
        if not any(state == "success" and end >= closed for state, end in changes):
            waiting.append(f"changes: no finished interval ends after {closed:%H:%M:%S}")
        if exported_up_to(bucket) < newest:
            waiting.append(f"events: exported up to id {exported_up_to(bucket)} of {newest}")
        return waiting

    def done() -> bool:
        broken = failed()
        if broken or time.monotonic() > deadline:
            pytest.fail(
                f"seed {SEED}: {'runs failed: ' + str(broken) if broken else 'runs not finished in time'}\n"
                f"waiting for: {pending()}\n{diagnose(deployment)}\nkills:\n" + "\n".join(chaos.log)
            )
        return not pending()

    deployment.wait_for("every run to finish", done, pause=5)

    def under_way() -> list[tuple]:
        if failed():
            pytest.fail(
                f"seed {SEED}: runs failed: {failed()}\n{diagnose(deployment)}\nkills:\n"
                + "\n".join(chaos.log)
            )
        return deployment.query(
            "SELECT run_id FROM dag_run WHERE state IN ('queued', 'running') AND dag_id IN (?, ?, ?)", *DAGS
        )

    def paused_when_quiet() -> bool:
        """The changes feed paused at a moment no run is under way: Airflow 3.3 never schedules the tasks of
        a paused DAG's running run, so pausing one mid-run would leave it running for ever."""
        if under_way():
            return False
        deployment.cli("dags", "pause", DAGS[1])
        if under_way():  # an interval began meanwhile: let it finish, then try again
            deployment.cli("dags", "unpause", DAGS[1])
            return False
        return True

    deployment.wait_for(
        "a moment with no run under way, to pause the changes feed", paused_when_quiet, pause=5
    )
    return time.monotonic()


def diagnose(deployment: Deployment) -> str:
    """The runs, task instances not done and asset events of the soak's DAGs: what a failed drain shows."""
    runs = deployment.query(
        "SELECT dag_id, run_id, state, start_date, end_date FROM dag_run ORDER BY dag_id, run_id"
    )
    tasks = deployment.query(
        "SELECT dag_id, run_id, task_id, state, try_number, hostname FROM task_instance "
        "WHERE state IS NULL OR state != 'success' ORDER BY dag_id, run_id"
    )
    events = deployment.query("SELECT id, timestamp, extra FROM asset_event ORDER BY id")
    queue = deployment.query("SELECT * FROM asset_dag_run_queue")
    lines = ["runs:", *map(str, runs), "task instances not succeeded:", *map(str, tasks)]
    lines += ["asset events:", *map(str, events), "asset queue:", *map(str, queue)]
    return "\n".join(lines)


def exported_up_to(bucket: Bucket) -> int:
    """The highest order id an event run has published (its partition's manifest written)."""
    names = [k for k in bucket.keys("akinon/events/orders/") if k.endswith("/_manifest.json")]
    return max((int(k.split("ids=")[1].split("-")[1].split("/")[0]) for k in names), default=0)


def load_current_state(bucket: Bucket, since: datetime) -> None:
    from airflow_provider_akinon.exports import merge_export
    from airflow_provider_akinon.operators.akinon import FetchOrdersOperator

    export = FetchOrdersOperator(
        task_id="initial_orders",
        destination=bucket.uri("akinon/changes/orders/hour=initial/"),
        date_field="modified_date",
        file_format="parquet",
        start=datetime(2000, 1, 1, tzinfo=UTC),
        end=since,
    ).execute({})
    merge_export(export, bucket.uri("akinon/current/orders/"))


def current_orders(bucket: Bucket) -> dict:
    from deltalake import DeltaTable

    from airflow_provider_akinon.exports import destination_path
    from airflow_provider_akinon.exports.tables.current import table_location

    uri, options = table_location(destination_path(bucket.uri("akinon/current/orders/")))
    table = DeltaTable(uri, storage_options=options).to_pyarrow_table()
    columns = [table.column(c).to_pylist() for c in ("id", "status", "modified_date", "_deleted_at")]
    return {key: (status, at) for key, status, at, gone in zip(*columns, strict=True) if gone is None}


def tenant_tokens(pg) -> list[tuple]:
    import contextlib

    with contextlib.closing(pg.connect("tenant")) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT key FROM authtoken_token")
        return cursor.fetchall()


def tenant_connection(url: str) -> str:
    from tests.drf_tenant.serve import PASSWORD, USER

    extra = {"backoff": 0.2, "max_wait": 10}
    return json.dumps(
        {"conn_type": "akinon", "host": url, "login": USER, "password": PASSWORD, "extra": extra}
    )


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status == 200
    except OSError:
        return False


def bucket_created(client) -> bool:
    try:
        client.create_bucket(Bucket=BUCKET)
    except Exception:
        return False
    return True
