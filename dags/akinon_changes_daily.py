"""
### A day of order changes, once every hour of it has landed

`akinon_order_changes` exports each hour's changed orders and updates the asset
`akinon://akinon_default/orders/changes` with the hour as its partition (`2026-01-02T13:00:00`). On
Airflow 3.3+ this DAG is scheduled by `PartitionedAssetTimetable` with a `RollupMapper`
(`StartOfDayMapper` and `DayWindow`): it runs **once per day, when all 24 hours of it were exported**,
with the day as its run's `partition_key`, and reports that day's changes: versions exported, orders
changed, and the status each order ended the day in, into `{base}/akinon/changes/daily/date=YYYY-MM-DD/`.
On older Airflow the same file runs on each update of the asset and reports the day of its hour.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from airflow_provider_akinon.assets import asset_uri
from airflow_provider_akinon.compat import DAG, Asset, daily_rollup_schedule, get_variable, task
from airflow_provider_akinon.exports import destination_path, iter_export_records
from airflow_provider_akinon.exports.commit.storage import MANIFEST

DEFAULT_BASE = "/tmp/akinon-exports"
CHANGES = Asset(asset_uri("akinon_default", "orders/changes"))


def day_of(context: dict[str, Any]) -> str:
    """The day to report: the run's partition; else the day of the hour that triggered it; else yesterday."""
    key = getattr(context.get("dag_run"), "partition_key", None)
    if key:
        return str(key)[:10]
    for events in (context.get("triggering_asset_events") or {}).values():
        for event in events:
            window = (event.extra or {}).get("window") or {}
            if window.get("start"):
                return str(window["start"])[:10]
    return (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")


def day_report(base: str, day: str) -> dict[str, Any]:
    """The changes of ``day``: every hourly partition of it, the versions, orders and final statuses."""
    root = destination_path(f"{base}/akinon/changes/orders/")
    hours = sorted(
        p for p in root.iterdir() if p.name.startswith(f"hour={day}") and (p / MANIFEST).exists()
    ) if root.exists() else []  # fmt: skip
    last: dict[int, tuple[str, str]] = {}
    versions = 0
    for hour in hours:
        for order in iter_export_records(str(hour)):
            versions += 1
            seen = last.get(order["id"])
            if seen is None or order["modified_date"] > seen[0]:
                last[order["id"]] = (order["modified_date"], order["status"])
    return {
        "date": day,
        "hours": len(hours),
        "versions": versions,
        "orders_changed": len(last),
        "ended_in_status": dict(sorted(Counter(status for _, status in last.values()).items())),
    }


with DAG(
    dag_id="akinon_changes_daily",
    description="A day of the hourly changes feed, once all its hours landed",
    doc_md=__doc__,
    schedule=daily_rollup_schedule([CHANGES]),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["akinon", "example"],
) as dag:

    @task
    def report(**context: Any) -> dict[str, Any]:
        base = get_variable("akinon_export_base") or DEFAULT_BASE
        day = day_of(context)
        summary = day_report(base, day)
        out = destination_path(f"{base}/akinon/changes/daily/date={day}/")
        out.mkdir(parents=True, exist_ok=True)
        with (out / "report.json").open("wb") as handle:
            handle.write(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
        return summary

    report()
