"""
### Order changes, hourly, and the current state of every order in Delta Lake tables

Each run covers one hour of `modified_date` (`CronDataIntervalTimetable`, backfillable like the daily
DAG): the orders changed in it (status updates, cancellations, refunds), and the items of those orders,
into `{base}/akinon/changes/<list>/hour=YYYY-MM-DDTHH/` — the changes feed, every version kept. Each
partition is merged into `{base}/akinon/current/<list>/`, a Delta Lake table of the current state: one
row per order (per item), the newest `modified_date` winning, so hours may run in any order and a
backfill never overwrites a newer version. The orders Akinon deleted in the hour (`deleted_items/`, cut on
`deleted_date`) are removed from both tables where the deletion is newer than the row. Once a day (the
00:00 run) the day's small files are compacted by key and files unreferenced for 7 days are vacuumed.

Items are cut on their own `modified_date` where the tenant's items endpoint allows it (`window_on="auto"`),
else they are the items of the changed orders. Tasks run in `default_pool`, or in the pool `AKINON_POOL`
names. Needs `pip install 'airflow-provider-akinon[delta]'`.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow_provider_akinon.assets import asset_uri
from airflow_provider_akinon.compat import DAG, Asset, CronDataIntervalTimetable, get_variable, task
from airflow_provider_akinon.operators.akinon import (
    FetchAkinonListOperator,
    FetchOrderItemsOperator,
    FetchOrdersOperator,
)

DEFAULT_BASE = "/tmp/akinon-exports"
POOL = os.environ.get("AKINON_POOL", "default_pool")
BASE = "{{ var.value.get('akinon_export_base', '" + DEFAULT_BASE + "') }}"
# Tests and demos run the feed faster and from a given instant, with every interval caught up:
# AKINON_CHANGES_MINUTES (a divisor of 60; partitions are then named hour=YYYY-MM-DDTHHMM) and
# AKINON_CHANGES_SINCE (an ISO instant).
MINUTES = int(os.environ.get("AKINON_CHANGES_MINUTES", "60"))
SINCE = os.environ.get("AKINON_CHANGES_SINCE")
HOUR = "{{ data_interval_start.strftime('%Y-%m-%dT%H" + ("%M" if MINUTES < 60 else "") + "') }}"
RETRIES = int(os.environ.get("AKINON_RETRIES", "2"))
RETRY_DELAY = timedelta(seconds=int(os.environ.get("AKINON_RETRY_DELAY_SECONDS", "60")))
RESOURCES = ("orders", "order_items")


def base() -> str:
    return get_variable("akinon_export_base") or DEFAULT_BASE


def current_table(resource: str) -> str:
    return f"{base()}/akinon/current/{resource}/"


with DAG(
    dag_id="akinon_order_changes",
    description="Hourly modified_date windows of orders and items; current state merged into Delta tables",
    schedule=CronDataIntervalTimetable(
        "0 * * * *" if MINUTES >= 60 else f"*/{MINUTES} * * * *", timezone="UTC"
    ),
    start_date=datetime.fromisoformat(SINCE) if SINCE else datetime(2026, 1, 1),
    catchup=SINCE is not None,
    max_active_runs=4,
    default_args={"retries": RETRIES, "retry_delay": RETRY_DELAY, "pool": POOL},
    tags=["akinon", "example", "delta"],
    doc_md=__doc__,
) as dag:
    # [START howto_akinon_changes]
    orders = FetchOrdersOperator(
        task_id="export_orders",
        destination=f"{BASE}/akinon/changes/orders/hour={HOUR}/",
        date_field="modified_date",
        file_format="parquet",
        outlets=[Asset(asset_uri("akinon_default", "orders/changes"))],
        partition_events=True,  # keyed by hour: akinon_changes_daily rolls them up to days (Airflow 3.3+)
    )
    items = FetchOrderItemsOperator(
        task_id="export_order_items",
        destination=f"{BASE}/akinon/changes/order_items/hour={HOUR}/",
        date_field="modified_date",
        window_on="auto",  # the items' own modified_date where the endpoint filters on it
        orders_from=orders.output,  # else: the items of the changed orders
        file_format="parquet",
        outlets=[Asset(asset_uri("akinon_default", "order_items/changes"))],
        partition_events=True,
    )

    @task(pool="default_pool")
    def merge_into_current(export: dict, resource: str) -> dict:
        """Upsert the hour's changes into the current-state table (one Delta commit)."""
        from airflow_provider_akinon.exports import merge_export

        return merge_export(export, current_table(resource))

    deleted = FetchAkinonListOperator(
        task_id="export_deletions",
        endpoint="deleted_items",
        destination=f"{BASE}/akinon/changes/deleted_items/hour={HOUR}/",
        date_field="deleted_date",
    )

    @task(pool="default_pool")
    def apply_deletions(deletions: dict) -> list[dict]:
        """Remove the orders Akinon deleted (and their items) from the current-state tables."""
        from airflow_provider_akinon.exports import apply_deletions

        return [
            apply_deletions(deletions, current_table("orders"), match="id"),
            apply_deletions(deletions, current_table("order_items"), match="order", resource="order_items"),
        ]

    @task.short_circuit(pool="default_pool")
    def daily(data_interval_start=None) -> bool:
        return data_interval_start is not None and data_interval_start.hour == 0

    @task(pool="default_pool")
    def compact_and_vacuum() -> list[dict]:
        """Compact the day's small files by key; vacuum what no version of the last 7 days references."""
        from airflow_provider_akinon.exports import maintain

        return [maintain(current_table(resource), retention_days=7) for resource in RESOURCES]

    merged = [
        merge_into_current.override(task_id="merge_orders")(orders.output, "orders"),
        merge_into_current.override(task_id="merge_order_items")(items.output, "order_items"),
    ]
    orders >> items
    deletions_applied = apply_deletions(deleted.output)
    merged >> deletions_applied >> daily() >> compact_and_vacuum()
    # [END howto_akinon_changes]
