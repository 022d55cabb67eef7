"""
One-off export of a long range, scaled out by Airflow: one mapped task per day.

Trigger it with ``{"start": "2026-01-01", "end": "2026-02-01"}``. Each mapped task is an independent
window export (its own folder, manifest and retries), so Celery or Kubernetes executors spread them
over workers; the ``akinon_api`` pool caps how many hit the API at once.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from airflow_provider_akinon.compat import DAG, Param, get_variable, task
from airflow_provider_akinon.operators.akinon import FetchOrdersOperator

DEFAULT_BASE = "/tmp/akinon-exports"

with DAG(
    dag_id="akinon_range_export",
    description="Orders of every day in [start, end), one mapped task per day",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    params={
        "start": Param("2026-01-01", type="string", format="date"),
        "end": Param("2026-01-04", type="string", format="date"),
        "base": Param("", type="string"),
    },
    tags=["akinon", "example"],
) as dag:

    @task
    def days(params: dict) -> list[dict]:
        base = params["base"] or get_variable("akinon_export_base") or DEFAULT_BASE
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

    FetchOrdersOperator.partial(task_id="export_orders", pool="akinon_api").expand_kwargs(days())
