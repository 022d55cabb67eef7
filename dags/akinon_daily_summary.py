"""
Daily summary of the latest Akinon exports: runs whenever all three exports have been updated.

Data-aware scheduling: no timetable, the run follows the export DAG's Assets. It reads the newest
complete partition (one with a ``_manifest.json``) of each resource and writes
``{base}/akinon/summary/date=YYYY-MM-DD/summary.json``: orders and revenue by status, items, discounts.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal

import orjson

from airflow_provider_akinon.compat import DAG, Asset, ObjectStoragePath, get_variable, task
from airflow_provider_akinon.exports import destination_path, iter_export_records
from airflow_provider_akinon.exports.output.storage import MANIFEST

DEFAULT_BASE = "/tmp/akinon-exports"
RESOURCES = ("orders", "order_items", "discount_items")


def latest_partition(base: str, resource: str) -> ObjectStoragePath:
    """The newest ``date=`` folder of ``resource`` that holds a complete export."""
    root = destination_path(f"{base}/akinon/{resource}/")
    complete = [p for p in root.iterdir() if p.name.startswith("date=") and (p / MANIFEST).exists()]
    if not complete:
        raise FileNotFoundError(f"No complete {resource} export under {root}")
    return max(complete, key=lambda p: p.name)


with DAG(
    dag_id="akinon_daily_summary",
    description="Orders, revenue, items and discounts of the newest Akinon exports",
    schedule=[Asset(f"akinon://exports/{name}") for name in RESOURCES],
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["akinon", "example"],
) as dag:

    @task
    def summarize() -> dict:
        base = get_variable("akinon_export_base") or DEFAULT_BASE
        parts = {resource: latest_partition(base, resource) for resource in RESOURCES}
        day = parts["orders"].name.removeprefix("date=")
        by_status: dict[str, dict] = defaultdict(lambda: {"orders": 0, "revenue": Decimal("0")})
        for order in iter_export_records(parts["orders"]):
            bucket = by_status[order["status"]]
            bucket["orders"] += 1
            bucket["revenue"] += Decimal(order["amount"])
        items = sum(1 for _ in iter_export_records(parts["order_items"], column="pk"))
        discount_total = sum(
            (Decimal(d["amount"]) for d in iter_export_records(parts["discount_items"])), Decimal("0")
        )
        summary = {
            "date": day,
            "orders": sum(b["orders"] for b in by_status.values()),
            "revenue": str(sum((b["revenue"] for b in by_status.values()), Decimal("0"))),
            "by_status": {
                s: {"orders": b["orders"], "revenue": str(b["revenue"])} for s, b in sorted(by_status.items())
            },
            "order_items": items,
            "discount_amount": str(discount_total),
            "sources": {r: str(p) for r, p in parts.items()},
        }
        out = destination_path(f"{base}/akinon/summary/date={day}/")
        out.mkdir(parents=True, exist_ok=True)
        with (out / "summary.json").open("wb") as handle:
            handle.write(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
        return {"uri": str(out / "summary.json"), "orders": summary["orders"], "revenue": summary["revenue"]}

    summarize()
