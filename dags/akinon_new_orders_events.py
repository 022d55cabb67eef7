"""
### New orders, exported as they arrive (Airflow 3 event-driven scheduling)

An `AssetWatcher` runs `AkinonNewOrdersEventTrigger` in the triggerer (no worker is held): when orders
with an id above its watermark exist, it fires an event, and this DAG runs: every order above the last id
exported (the Variable `akinon_new_orders_exported__<conn_id>`) up to the newest one, then their items and
discounts, into `{base}/akinon/events/<list>/ids=<first>-<last>/`. The range is recorded before the export
and is exported again, as the same partition, by the next run if this one does not finish; an event whose
orders a run already exported starts a run that exports nothing. So no order is skipped, even if an event
is lost or held back by Airflow, and none is exported into two partitions.

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
RETRIES = int(os.environ.get("AKINON_RETRIES", "2"))
RETRY_DELAY = timedelta(seconds=int(os.environ.get("AKINON_RETRY_DELAY_SECONDS", "30")))
RANGE = "{{ ti.xcom_pull(task_ids='id_range')['label'] }}"


def destination(resource: str) -> str:
    base = "{{ var.value.get('akinon_export_base', '" + DEFAULT_BASE + "') }}"
    return f"{base}/akinon/events/{resource}/ids={RANGE}/"


def next_range(events: list[dict], exported: dict, newest: int | None) -> dict | None:
    """
    The id range ``(after_id, to_id]`` this run exports, or ``None`` when there is nothing new.

    A run that did not finish left its range as ``pending``: it is exported again, as the same partition.
    Otherwise the range starts at the last id exported and ends at the newest order now. The events are a
    wake-up, not the range: while the DAG is at ``max_active_runs``, Airflow 3 gives the next run only the
    first of the events that arrived meanwhile, and the others wait for an event that may never come.
    """
    if exported.get("pending"):
        return exported["pending"]
    if not events:
        raise ValueError("this run has no new-orders event: trigger it from the asset, not by hand")
    after = exported["to_id"] if "to_id" in exported else min(int(e["after_id"]) for e in events)
    to = max([int(e["to_id"]) for e in events] + ([newest] if newest is not None else []))
    return {"after_id": after, "to_id": to, "label": f"{after + 1}-{to}"} if to > after else None


if AIRFLOW_V3:
    from airflow.sdk import AssetWatcher

    from airflow_provider_akinon.hooks.akinon import AkinonHook
    from airflow_provider_akinon.resources import ORDERS
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
        default_args={"retries": RETRIES, "retry_delay": RETRY_DELAY, "pool": POOL},
        tags=["akinon", "example", "events"],
    ) as dag:

        @task.short_circuit(pool="default_pool")
        def id_range(**context) -> dict | None:
            """The range to export, kept as pending until it is; nothing new: the run skips its exports."""
            # each asset event carries the trigger's payload: {"after_id", "to_id", "count", ...}
            events = [event.extra["payload"] for event in context["triggering_asset_events"][NEW_ORDERS]]
            exported = get_variable(EXPORTED, deserialize_json=True) or {}
            _, newest = AkinonHook(akinon_conn_id=CONN_ID).head(ORDERS.endpoint, {"sort": "-id"})
            ids = next_range(events, exported, int(newest["id"]) if newest else None)
            if ids is not None and exported.get("pending") != ids:
                Variable.set(EXPORTED, {**exported, "pending": ids}, serialize_json=True)
            return ids

        @task(pool="default_pool")
        def record_exported(ids: dict) -> None:
            exported = get_variable(EXPORTED, deserialize_json=True) or {}
            Variable.set(
                EXPORTED,
                {"to_id": max(int(ids["to_id"]), int(exported.get("to_id", -1))), "pending": None},
                serialize_json=True,
            )

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
