"""
### New orders, exported as they arrive (Airflow 3 event-driven scheduling)

An `AssetWatcher` runs `AkinonNewOrdersEventTrigger` in the triggerer (no worker is held): when orders
with an id above its watermark exist, it fires one event for the id range `(after_id, to_id]`, and this
DAG runs: the orders of that range, then their items and discounts, into
`{base}/akinon/events/<list>/ids=<first>-<last>/`. Several events merged into one run are exported as the
union of their ranges, once; every run starts no later than the last id exported (the Variable
`akinon_new_orders_exported__<conn_id>`), so no order is skipped even if an event is lost.

Late changes to orders (status, cancellations) are not new ids: keep `akinon_daily_export` (or the
changes feed, `akinon_order_changes`) for those. The asset is named after the connection
(`akinon://akinon_default/orders/new`). Tasks run in `default_pool`, or in the pool `AKINON_POOL` names.
On Airflow 2.11 this file defines no DAG.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow_provider_akinon.compat import AIRFLOW_V3, DAG, Asset, Variable, get_variable, task
from airflow_provider_akinon.operators.akinon import (
    FetchDiscountItemsOperator,
    FetchOrderItemsOperator,
    FetchOrdersOperator,
)

CONN_ID = "akinon_default"
POOL = os.environ.get("AKINON_POOL", "default_pool")
#: the last id this DAG exported: each run exports from there, so an event lost by a triggerer killed
#: mid-handover is covered by the next run
EXPORTED = f"akinon_new_orders_exported__{CONN_ID}"
DEFAULT_BASE = "/tmp/akinon-exports"
POLL_SECONDS = float(os.environ.get("AKINON_EVENTS_POLL_SECONDS", "60"))
RANGE = "{{ ti.xcom_pull(task_ids='id_range')['label'] }}"


def destination(resource: str) -> str:
    base = "{{ var.value.get('akinon_export_base', '" + DEFAULT_BASE + "') }}"
    return f"{base}/akinon/events/{resource}/ids={RANGE}/"


def union_of_ranges(events: list[dict], last_exported: int | None = None) -> dict:
    """
    One id range covering every event's ``(after_id, to_id]`` (consecutive ranges, or the same again),
    starting no later than the last id exported (a lost event's orders are not skipped).
    """
    if not events:
        raise ValueError("this run has no new-orders event: trigger it from the asset, not by hand")
    after, to = min(int(e["after_id"]) for e in events), max(int(e["to_id"]) for e in events)
    if last_exported is not None and last_exported < after:
        after = last_exported
    return {"after_id": after, "to_id": to, "label": f"{after + 1}-{to}"}


if AIRFLOW_V3:
    from airflow.sdk import AssetWatcher

    from airflow_provider_akinon.triggers.akinon import AkinonNewOrdersEventTrigger

    # [START howto_trigger_akinon_events]
    NEW_ORDERS = Asset(
        f"akinon://{CONN_ID}/orders/new",
        watchers=[
            AssetWatcher(
                name="akinon_new_orders",
                trigger=AkinonNewOrdersEventTrigger(akinon_conn_id=CONN_ID, poll_interval=POLL_SECONDS),
            )
        ],
    )
    # [END howto_trigger_akinon_events]

    with DAG(
        dag_id="akinon_new_orders_events",
        description="Orders, items and discounts of every new id range, as the new orders arrive",
        doc_md=__doc__,
        schedule=[NEW_ORDERS],
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,  # ranges are exported in the order they fired
        default_args={"retries": 2, "retry_delay": timedelta(seconds=30), "pool": POOL},
        tags=["akinon", "example", "events"],
    ) as dag:

        @task(pool="default_pool")
        def id_range(**context) -> dict:
            # each asset event carries the trigger's payload: {"after_id", "to_id", "count", ...}
            events = context["triggering_asset_events"][NEW_ORDERS]
            last = get_variable(EXPORTED, deserialize_json=True) or {}
            return union_of_ranges([event.extra["payload"] for event in events], last.get("to_id"))

        @task(pool="default_pool")
        def record_exported(ids: dict) -> None:
            last = get_variable(EXPORTED, deserialize_json=True) or {}
            if int(ids["to_id"]) > int(last.get("to_id", -1)):
                Variable.set(EXPORTED, {"to_id": int(ids["to_id"])}, serialize_json=True)

        ids = id_range()
        orders = FetchOrdersOperator(task_id="export_orders", destination=destination("orders"), id_range=ids)
        items = FetchOrderItemsOperator(
            task_id="export_order_items", destination=destination("order_items"), orders_from=orders.output
        )
        discounts = FetchDiscountItemsOperator(
            task_id="export_discount_items",
            destination=destination("discount_items"),
            orders_from=orders.output,
        )
        ids >> orders >> [items, discounts] >> record_exported(ids)
