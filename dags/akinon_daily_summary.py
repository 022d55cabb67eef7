"""
### Daily summary of the Akinon exports

Runs when the daily export updates its assets, and summarises **exactly the partitions those asset
events name** (a backfill of several days gives one summary per day): orders and revenue by status
(sorted by status code), items, and the discount amount, into
`{base}/akinon/summary/date=YYYY-MM-DD/summary.json`.

On Airflow 3.3+ the schedule is a `PartitionedAssetTimetable`: the export's asset events carry the day
as their `partition_key` (the exports set `partition_events=True`), and this DAG runs **once per day**,
when orders, items and discounts of that day have all landed, with the day as its run's `partition_key`;
an export of several days is summarised day by day (each run counts its own day's orders). On older
Airflow it runs when all three assets were updated and summarises every day their events name.

`base` is the `base` param, else the Variable `akinon_export_base`, else `/tmp/akinon-exports`. Triggered
by hand (no asset events), it summarises the newest complete partition of each list.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

from airflow_provider_akinon.assets import asset_uri
from airflow_provider_akinon.compat import DAG, Asset, Param, get_variable, partitioned_schedule, task
from airflow_provider_akinon.exports import destination_path, iter_export_records, read_manifest
from airflow_provider_akinon.exports.commit.storage import MANIFEST
from airflow_provider_akinon.timestamps import parse_instant

CONN_ID = "akinon_default"
DEFAULT_BASE = "/tmp/akinon-exports"
RESOURCES = ("orders", "order_items", "discount_items")


def partitions_of(events: Any, day: str | None = None) -> dict[str, dict[str, str]]:
    """``{day: {resource: uri}}`` from the triggering asset events (their extra is the export's summary, with
    each day of its window under ``partitions``); with ``day`` (a partitioned run's key), that day only."""
    days: dict[str, dict[str, str]] = defaultdict(dict)
    for asset_events in (events or {}).values():
        for event in asset_events:
            summary = event.extra or {}
            if not (summary.get("uri") and summary.get("window")):
                continue
            partitions = summary.get("partitions") or {summary["window"]["start"][:10]: {}}
            for key, part in partitions.items():  # an export of several days: each day's partition
                days[key[:10]][summary["resource"]] = part.get("uri") or summary["uri"]
    return {key: parts for key, parts in days.items() if day is None or key == day}


def newest_partitions(base: str) -> dict[str, dict[str, str]]:
    """The newest complete ``date=`` partition of each list (a run triggered by hand)."""
    found = {}
    for resource in RESOURCES:
        root = destination_path(f"{base}/akinon/{resource}/")
        complete = [p for p in root.iterdir() if p.name.startswith("date=") and (p / MANIFEST).exists()]
        if not complete:
            raise FileNotFoundError(f"No complete {resource} export under {root}")
        found[resource] = str(max(complete, key=lambda p: p.name))
    return {found["orders"].rstrip("/").rsplit("date=", 1)[-1]: found}


def summary_of(day: str, parts: dict[str, str]) -> dict[str, Any]:
    """The day's orders (an export of several days holds other days too: only ``day``'s are counted), and
    the items and discounts of those orders."""
    date_field = read_manifest(parts["orders"]).get("date_field") or "created_date"
    by_status: dict[str, dict] = defaultdict(lambda: {"orders": 0, "revenue": Decimal("0")})
    ids = set()
    for order in iter_export_records(parts["orders"]):
        if parse_instant(order[date_field]).astimezone(UTC).strftime("%Y-%m-%d") != day:
            continue
        ids.add(order["id"])
        bucket = by_status[order["status"]]
        bucket["orders"] += 1
        bucket["revenue"] += Decimal(order["amount"])
    items = (
        sum(1 for item in iter_export_records(parts["order_items"]) if item["order"] in ids)
        if "order_items" in parts
        else None
    )
    discounts = (
        str(
            sum(
                (
                    Decimal(d["amount"])
                    for d in iter_export_records(parts["discount_items"])
                    if d["order"] in ids
                ),
                Decimal("0"),
            )
        )
        if "discount_items" in parts
        else None
    )
    codes = sorted(by_status, key=lambda code: (not code.isdigit(), int(code) if code.isdigit() else 0, code))
    return {
        "date": day,
        "orders": sum(b["orders"] for b in by_status.values()),
        "revenue": str(sum((b["revenue"] for b in by_status.values()), Decimal("0"))),
        "by_status": {
            s: {"orders": by_status[s]["orders"], "revenue": str(by_status[s]["revenue"])} for s in codes
        },
        "order_items": items,
        "discount_amount": discounts,
        "sources": parts,
    }


with DAG(
    dag_id="akinon_daily_summary",
    description="Orders, revenue, items and discounts of the partitions the daily export just wrote",
    doc_md=__doc__,
    schedule=partitioned_schedule([Asset(asset_uri(CONN_ID, name)) for name in RESOURCES]),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    params={"base": Param(None, type=["null", "string"], description="Export root URI; empty: the Variable")},
    tags=["akinon", "example"],
) as dag:

    @task
    def summarize(params: dict, **context: Any) -> list[dict]:
        base = params.get("base") or get_variable("akinon_export_base") or DEFAULT_BASE
        events = context.get("triggering_asset_events") or context.get("triggering_dataset_events")
        day = getattr(context.get("dag_run"), "partition_key", None)  # a partitioned run: its day
        partitions = partitions_of(events, day) or newest_partitions(base)
        written = []
        for day, parts in sorted(partitions.items()):
            if "orders" not in parts:
                continue  # only items or discounts changed: their day's orders will come with their event
            summary = summary_of(day, parts)
            out = destination_path(f"{base}/akinon/summary/date={day}/")
            out.mkdir(parents=True, exist_ok=True)
            with (out / "summary.json").open("wb") as handle:
                handle.write(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
            written.append(
                {"uri": str(out / "summary.json"), "orders": summary["orders"], "revenue": summary["revenue"]}
            )
        return written

    summarize()
