"""
Daily Akinon export: wait for the day to close, export its orders, then its items and discounts.

Each run covers one UTC day ``[data_interval_start, data_interval_end)`` thanks to
``CronDataIntervalTimetable`` (a plain cron string would give Airflow 3 zero-width intervals). Backfill
any range with ``airflow backfill create --dag-id akinon_daily_export --from-date ... --to-date ...``:
every run is an independent window, written to its own ``date=YYYY-MM-DD`` folder.

Set the Variable ``akinon_export_base`` (or the ``base`` param) to ``s3://aws_default@bucket/prefix`` or any
object storage URI; without it, exports go to a local folder. Create the pool ``akinon_api`` to cap
concurrent exports against the API: ``airflow pools set akinon_api 4 "Akinon API"``.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow_provider_akinon.compat import DAG, Asset, CronDataIntervalTimetable, Param
from airflow_provider_akinon.operators.akinon import (
    FetchDiscountItemsOperator,
    FetchOrderItemsOperator,
    FetchOrdersOperator,
)
from airflow_provider_akinon.sensors.akinon import AkinonNewOrdersSensor

DEFAULT_BASE = "/tmp/akinon-exports"
BASE = "{{ params.base or var.value.get('akinon_export_base', '" + DEFAULT_BASE + "') }}"
ASSETS = {name: Asset(f"akinon://exports/{name}") for name in ("orders", "order_items", "discount_items")}
# Polling and retry pauses; tests and demos shorten them through the environment.
POLL_SECONDS = int(os.environ.get("AKINON_POLL_SECONDS", "300"))
RETRY_DELAY = timedelta(seconds=int(os.environ.get("AKINON_RETRY_DELAY_SECONDS", "300")))


def destination(resource: str) -> str:
    # Named by the window's start, not by ``ds``: manual runs and dag.test() cover the interval that
    # ended most recently, whose start is not their logical date.
    return f"{BASE}/akinon/{resource}/date={{{{ data_interval_start.strftime('%Y-%m-%d') }}}}/"


with DAG(
    dag_id="akinon_daily_export",
    description="Akinon orders, order items and discount items, one UTC day per run",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=3,
    params={"base": Param("", type="string", description="Export root URI; empty: Variable or local folder")},
    default_args={"retries": 2, "retry_delay": RETRY_DELAY, "pool": "akinon_api"},
    tags=["akinon", "example"],
) as dag:
    # An order created after the window closed proves the window is complete. Deferrable: while it
    # waits, the triggerer polls and no worker slot is held.
    day_closed = AkinonNewOrdersSensor(
        task_id="wait_for_day_to_close",
        since="{{ data_interval_end }}",
        deferrable=True,
        poke_interval=POLL_SECONDS,
        timeout=int(timedelta(hours=12).total_seconds()),
    )
    orders = FetchOrdersOperator(
        task_id="export_orders",
        destination=destination("orders"),
        outlets=[ASSETS["orders"]],
    )
    # Items and discounts of exactly the exported orders: the ids come from the orders export.
    items = FetchOrderItemsOperator(
        task_id="export_order_items",
        destination=destination("order_items"),
        orders_from=orders.output,
        outlets=[ASSETS["order_items"]],
    )
    discounts = FetchDiscountItemsOperator(
        task_id="export_discount_items",
        destination=destination("discount_items"),
        orders_from=orders.output,
        outlets=[ASSETS["discount_items"]],
    )
    day_closed >> orders >> [items, discounts]
