"""
### Daily Akinon export

Waits for the day to close, exports its **orders**, then their **items** and **discounts** into
`{base}/akinon/<list>/date=YYYY-MM-DD/` (part files and a `_manifest.json`, written last).

- **Trigger it as it is**: every parameter is optional. `base` is the export root (`s3://aws_default@bucket/prefix`,
  or a local folder); empty: the Variable `akinon_export_base`, else `/tmp/akinon-exports`. `file_format` is
  `jsonl` (default), `jsonl.gz` or `parquet`; a backfill takes it as `--dag-run-conf '{"file_format": "parquet"}'`.
- Each run covers one UTC day `[data_interval_start, data_interval_end)` (`CronDataIntervalTimetable`: a
  cron string would give Airflow 3 zero-width intervals). Backfill any range with
  `airflow backfill create --dag-id akinon_daily_export --from-date ... --to-date ...`.
- The connection is `akinon_default`. Tasks run in `default_pool`, or in the pool `AKINON_POOL` names:
  create it first (`airflow pools set akinon_api 4 "Akinon API"`), since a task in a pool that does not
  exist waits for ever without a word in its log.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow_provider_akinon.assets import asset_uri
from airflow_provider_akinon.compat import DAG, Asset, CronDataIntervalTimetable, Param
from airflow_provider_akinon.operators.akinon import (
    FetchDiscountItemsOperator,
    FetchOrderItemsOperator,
    FetchOrdersOperator,
)
from airflow_provider_akinon.sensors.akinon import AkinonNewOrdersSensor

CONN_ID = "akinon_default"
DEFAULT_BASE = "/tmp/akinon-exports"
BASE = "{{ params.base or var.value.get('akinon_export_base', '" + DEFAULT_BASE + "') }}"
ASSETS = {name: Asset(asset_uri(CONN_ID, name)) for name in ("orders", "order_items", "discount_items")}
# Polling and retry pauses; tests and demos shorten them through the environment.
POLL_SECONDS = int(os.environ.get("AKINON_POLL_SECONDS", "300"))
RETRY_DELAY = timedelta(seconds=int(os.environ.get("AKINON_RETRY_DELAY_SECONDS", "300")))
POOL = os.environ.get("AKINON_POOL", "default_pool")
RETRIES = int(os.environ.get("AKINON_RETRIES", "2"))
FORMAT = "{{ params.file_format }}"


def destination(resource: str) -> str:
    # Named by the window's start, not by ``ds``: manual runs and dag.test() cover the interval that
    # ended most recently, whose start is not their logical date.
    return f"{BASE}/akinon/{resource}/date={{{{ data_interval_start.strftime('%Y-%m-%d') }}}}/"


with DAG(
    dag_id="akinon_daily_export",
    description="Akinon orders, order items and discount items, one UTC day per run",
    doc_md=__doc__,
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=3,
    params={
        "base": Param(
            None,
            type=["null", "string"],
            description="Export root URI (s3://conn@bucket/prefix or a folder); empty: the Variable "
            "akinon_export_base, else /tmp/akinon-exports",
        ),
        "file_format": Param(
            "jsonl", enum=["jsonl", "jsonl.gz", "parquet"], description="Format of the part files"
        ),
    },
    default_args={"retries": RETRIES, "retry_delay": RETRY_DELAY, "pool": POOL},
    tags=["akinon", "example"],
) as dag:
    # [START howto_sensor_akinon]
    # An order created after the window closed proves the window is complete. Deferrable: while it
    # waits, the triggerer polls and no worker slot is held.
    day_closed = AkinonNewOrdersSensor(
        task_id="wait_for_day_to_close",
        akinon_conn_id=CONN_ID,
        since="{{ data_interval_end }}",
        deferrable=True,
        poke_interval=POLL_SECONDS,
        timeout=int(timedelta(hours=12).total_seconds()),
    )
    # [END howto_sensor_akinon]
    # [START howto_operator_akinon_daily]
    orders = FetchOrdersOperator(
        task_id="export_orders",
        akinon_conn_id=CONN_ID,
        destination=destination("orders"),
        file_format=FORMAT,
        outlets=[ASSETS["orders"]],
        partition_events=True,  # keyed by day: akinon_daily_summary runs once per day (Airflow 3.3+)
    )
    # Items and discounts of exactly the exported orders: the ids come from the orders export.
    children = [
        export_children(
            task_id=f"export_{name}",
            akinon_conn_id=CONN_ID,
            destination=destination(name),
            file_format=FORMAT,
            orders_from=orders.output,
            outlets=[ASSETS[name]],
            partition_events=True,
        )
        for name, export_children in (
            ("order_items", FetchOrderItemsOperator),
            ("discount_items", FetchDiscountItemsOperator),
        )
    ]
    day_closed >> orders >> children
    # [END howto_operator_akinon_daily]
