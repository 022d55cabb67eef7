"""A real Airflow 3 (scheduler, dag-processor, api-server, triggerer; LocalExecutor) backfills three days.

``airflow standalone`` runs in its own process group with the example DAGs; the fake Akinon server runs
in this test's process. Days 1 and 2 are closed (later orders exist), so their sensors pass at once; day 3
is the newest day of data, so its deferrable sensor waits in the triggerer until this test adds an order
of day 4. All three runs must succeed, and the nine exports must hold exactly the server's records.

The exports' asset events carry their day as ``partition_key`` (Airflow 3.3+), and the summary DAG,
scheduled by ``PartitionedAssetTimetable``, runs once per day with that day as its run's key.

The same scheduler then rolls up the hourly changes feed: ``akinon_changes_daily`` runs once for a day all
24 hours of which were exported and announced (keyed events, posted through Airflow's REST API as the
hourly DAG's tasks would), with the day as its key, and never for a day with an hour missing.
"""

from __future__ import annotations

import json
import urllib.request
from datetime import datetime, timedelta

import pytest

from airflow_provider_akinon.testing import AkinonData
from airflow_provider_akinon.testing.data import parse_ts
from tests.deployment import (
    api_ready,
    assert_daily_partitions,
    on_fake_tenant,
)

pytestmark = [pytest.mark.scheduler, pytest.mark.timeout(900)]

airflow = pytest.importorskip("airflow")
if int(airflow.__version__.split(".")[0]) < 3:
    pytest.skip("the real-scheduler backfill test runs on Airflow 3", allow_module_level=True)

DAG_ID = "akinon_daily_export"
SUMMARY = "akinon_daily_summary"
CHANGES_DAILY = "akinon_changes_daily"
DAYS = ["2026-01-01", "2026-01-02", "2026-01-03"]
ADMIN = ("admin", "akinon-admin-pw")


def hourly_changes(base, day: str) -> list[int]:
    """The hourly changes feed of ``day`` exported as akinon_order_changes does (hour=YYYY-MM-DDTHH);
    the ids of every version exported."""
    from airflow_provider_akinon.operators.akinon import FetchOrdersOperator

    ids = []
    midnight = datetime.fromisoformat(f"{day}T00:00:00+00:00")
    for hour in range(24):
        start, end = midnight + timedelta(hours=hour), midnight + timedelta(hours=hour + 1)
        summary = FetchOrdersOperator(
            task_id=f"h{hour}", destination=f"{base}/akinon/changes/orders/hour={day}T{hour:02d}/",
            date_field="modified_date", start=start, end=end, file_format="parquet",
        ).execute({})  # fmt: skip
        ids += [r["id"] for r in _records(summary["uri"])]
    return ids


def _records(uri: str) -> list[dict]:
    from airflow_provider_akinon.exports import iter_export_records

    return list(iter_export_records(uri))


def post_hour_events(port: int, asset_uri: str, hours: list[str]) -> None:
    """Keyed events of ``asset_uri``, one per hour, through Airflow's REST API (as an admin)."""
    url = f"http://127.0.0.1:{port}"

    def call(method: str, path: str, body: dict | None = None, token: str | None = None) -> dict:
        request = urllib.request.Request(
            url + path,
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={
                "Content-Type": "application/json",
                **({"Authorization": f"Bearer {token}"} if token else {}),
            },
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read())

    token = call("POST", "/auth/token", {"username": ADMIN[0], "password": ADMIN[1]})["access_token"]
    assets = call("GET", "/api/v2/assets?limit=100", token=token)["assets"]
    asset_id = next(a["id"] for a in assets if a["uri"] == asset_uri)
    for hour in hours:
        call("POST", "/api/v2/assets/events", {"asset_id": asset_id, "partition_key": hour}, token)


def test_backfill_of_three_days_with_a_real_scheduler(tmp_path, monkeypatch):
    data = AkinonData(orders=300, start="2026-01-01", days=3, seed=11)
    (tmp_path / "passwords.json").write_text(json.dumps(dict([ADMIN])))
    local = {
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AKINON_POLL_SECONDS": "1",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(tmp_path / "passwords.json"),
    }
    with on_fake_tenant(tmp_path, data, **local) as (airflow, server, base, port):
        monkeypatch.setenv("AIRFLOW_CONN_AKINON_DEFAULT", server.connection_json())
        changed = hourly_changes(base, DAYS[1])  # the feed of day 2, every hour of it
        # SQLite admits one writer at a time, and a CLI write racing the scheduler can fail at once with
        # "database is locked". So every write but one happens before the scheduler starts, with the
        # pool closed (0 slots): no task may start before the API server answers, as tasks reach Airflow
        # through it. Opening the pool is the one write made while the scheduler runs; it is idempotent
        # and retried.
        backfill = (
            "backfill",
            "create",
            "--dag-id",
            DAG_ID,
            "--from-date",
            "2026-01-01",
            "--to-date",
            "2026-01-03",
        )
        airflow.prepare(
            DAG_ID,
            pool_slots=0,
            then=(backfill, ("dags", "unpause", SUMMARY), ("dags", "unpause", CHANGES_DAILY)),
        )
        airflow.start("standalone", "standalone")
        try:
            airflow.wait_for("the API server", lambda: api_ready(port))
            airflow.wait_for(
                "the pool to open",
                lambda: airflow.cli("pools", "set", "akinon_api", "4", "Akinon API", check=False),
            )

            def day3_sensor_deferred():
                return airflow.query(
                    "SELECT ti.state FROM task_instance ti JOIN dag_run r ON r.run_id = ti.run_id "
                    "AND r.dag_id = ti.dag_id WHERE ti.dag_id = ? AND ti.task_id = 'wait_for_day_to_close' "
                    "AND ti.state = 'deferred' AND r.data_interval_start LIKE '2026-01-03%'",
                    DAG_ID,
                )

            airflow.wait_for("the day-3 sensor to defer to the triggerer", day3_sensor_deferred)
            # Let the scheduler see the deferring process exit before the trigger fires: Airflow 3.3
            # marks a task resumed within that same scheduler loop as "changed externally".
            deferral_exit = (
                "Received executor event with state success for task instance TaskInstanceKey("
                f"dag_id='{DAG_ID}', task_id='wait_for_day_to_close', run_id='backfill__2026-01-04"
            )
            airflow.wait_for(
                "the scheduler to see the deferral",
                lambda: deferral_exit in airflow.log("standalone", 2_000_000),
            )
            server.data.insert_order(created=parse_ts("2026-01-04T00:30:00"))  # the day closes

            def runs_finished():
                # unpausing also schedules today's interval (catchup=False); only the backfill counts
                rows = airflow.query(
                    "SELECT state FROM dag_run WHERE dag_id = ? AND run_type = 'backfill'", DAG_ID
                )
                return rows if len(rows) == 3 and all(s in ("success", "failed") for (s,) in rows) else None

            states = airflow.wait_for("the three backfill runs", runs_finished)
            assert sorted(s for (s,) in states) == ["success"] * 3, airflow.logs()
            # day 3's sensor succeeded in its first try: through the triggerer, not a retry
            assert airflow.query(
                "SELECT ti.try_number FROM task_instance ti JOIN dag_run r ON r.run_id = ti.run_id "
                "AND r.dag_id = ti.dag_id WHERE ti.dag_id = ? AND ti.task_id = 'wait_for_day_to_close' "
                "AND r.data_interval_start LIKE '2026-01-03%'",
                DAG_ID,
            ) == [(1,)]
            # one asset event per export and day, keyed by the day; one summary run per day, with that key
            events = airflow.query(
                "SELECT a.uri, e.partition_key FROM asset_event e JOIN asset a ON a.id = e.asset_id "
                "ORDER BY a.uri, e.partition_key"
            )
            assert events == [
                (f"akinon://akinon_default/{name}", day)
                for name in ("discount_items", "order_items", "orders")
                for day in DAYS
            ]

            def summaries_finished():
                rows = airflow.query("SELECT partition_key, state FROM dag_run WHERE dag_id = ?", SUMMARY)
                return rows if len(rows) >= 3 and all(s in ("success", "failed") for _, s in rows) else None

            summaries = airflow.wait_for("a summary run for each day", summaries_finished)
            assert sorted(summaries) == [(day, "success") for day in DAYS], airflow.logs()

            # the changes feed: day 1 announced but for its last hour, then every hour of day 2
            changes = "akinon://akinon_default/orders/changes"
            hours = [f"{day}T{hour:02d}:00:00" for day in DAYS[:2] for hour in range(24)]
            post_hour_events(port, changes, hours[:23] + hours[24:])

            def rollups_finished():
                rows = airflow.query(
                    "SELECT partition_key, state FROM dag_run WHERE dag_id = ?", CHANGES_DAILY
                )
                return rows if rows and all(s in ("success", "failed") for _, s in rows) else None

            rollups = airflow.wait_for("the day of changes rolled up", rollups_finished)
            # one run, for the day whose 24 hours all landed; none for the day missing an hour (its 23
            # events were in before day 2's, so the scheduler weighed them first)
            assert rollups == [(DAYS[1], "success")], airflow.logs()
            airflow.assert_clean_task_logs()
        finally:
            airflow.stop()

    assert_daily_partitions(base, data, range(1, 4))
    for day, after in zip(DAYS, [*DAYS[1:], "2026-01-04"], strict=True):  # each day's summary, of its day
        summary = json.loads((base / "akinon" / "summary" / f"date={day}" / "summary.json").read_text())
        expected = data.expected("orders", "created_date", f"{day}T00:00:00", f"{after}T00:00:00")
        assert (summary["date"], summary["orders"]) == (day, len(expected))
    report = json.loads(
        (base / "akinon" / "changes" / "daily" / f"date={DAYS[1]}" / "report.json").read_text()
    )
    assert (report["date"], report["hours"]) == (DAYS[1], 24)
    assert (report["versions"], report["orders_changed"]) == (len(changed), len(set(changed)))
    truth = data.expected("orders", "modified_date", f"{DAYS[1]}T00:00:00", f"{DAYS[2]}T00:00:00")
    assert truth  # the day had changes
    assert sorted(changed) == sorted(truth)  # the hours exported exactly the day's changes
    assert not (base / "akinon" / "changes" / "daily" / f"date={DAYS[0]}").exists()
    assert json.loads((base / "akinon" / "orders" / "date=2026-01-03" / "_manifest.json").read_text())[
        "window"
    ] == {
        "start": "2026-01-03T00:00:00.000000Z",
        "end": "2026-01-04T00:00:00.000000Z",
    }
