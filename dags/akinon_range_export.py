"""
### One-off export of a long range

One mapped task per day of `[start, end)` (the map index names the day): each is an independent window
export (its own folder, manifest and retries), so Celery or Kubernetes executors spread them over
workers. Trigger it as it is (the first three days of 2026), or with `{"start": "2026-01-01", "end":
"2026-02-01"}`. `base` is optional: the Variable `akinon_export_base`, else `/tmp/akinon-exports`. Tasks
run in `default_pool`, or in the pool `AKINON_POOL` names (create it first).
"""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta

from airflow_provider_akinon.compat import DAG, Param, get_variable, task
from airflow_provider_akinon.operators.akinon import FetchOrdersOperator

DEFAULT_BASE = "/tmp/akinon-exports"
POOL = os.environ.get("AKINON_POOL", "default_pool")

with DAG(
    dag_id="akinon_range_export",
    description="Orders of every day in [start, end), one mapped task per day",
    doc_md=__doc__,
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    params={
        "start": Param("2026-01-01", type="string", format="date", description="First day"),
        "end": Param("2026-01-04", type="string", format="date", description="The day after the last"),
        "base": Param(None, type=["null", "string"], description="Export root URI; empty: the Variable"),
    },
    tags=["akinon", "example"],
) as dag:

    @task
    def days(params: dict) -> list[dict]:
        base = params.get("base") or get_variable("akinon_export_base") or DEFAULT_BASE
        first, last = date.fromisoformat(params["start"]), date.fromisoformat(params["end"])
        if last <= first:
            raise ValueError(f"end {last} must be after start {first}")
        return [
            {
                "start": f"{day}T00:00:00Z",
                "end": f"{day + timedelta(days=1)}T00:00:00Z",
                "destination": f"{base}/akinon/orders/date={day}/",
            }
            for day in (first + timedelta(days=n) for n in range((last - first).days))
        ]

    # [START howto_operator_akinon_range]
    FetchOrdersOperator.partial(
        task_id="export_orders", pool=POOL, map_index_template="{{ task.start[:10] }}"
    ).expand_kwargs(days())
    # [END howto_operator_akinon_range]
