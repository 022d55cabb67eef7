"""
### One task for a long range, a partition per day

The orders of every day of `[start, end)` in **one task**: `partition_by="P1D"` writes each day into its
own `date=YYYY-MM-DD/` partition with its own manifest, published on its own (a failed day leaves the
days before it published, and a retry exports each day again, idempotently), and the probe is asked once
for the whole range. Against `akinon_range_export` (a mapped task per day), it saves every day's task
start-up: a month of a small tenant is one task of seconds, not thirty of one each.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow_provider_akinon.compat import DAG, Param
from airflow_provider_akinon.operators.akinon import FetchOrdersOperator

DEFAULT_BASE = "/tmp/akinon-exports"
POOL = os.environ.get("AKINON_POOL", "default_pool")
BASE = "{{ params.base or var.value.get('akinon_export_base', '" + DEFAULT_BASE + "') }}"

with DAG(
    dag_id="akinon_range_partitions",
    description="Orders of every day in [start, end) in one task, a partition per day",
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
    # [START howto_operator_akinon_partitions]
    FetchOrdersOperator(
        task_id="export_orders",
        destination=f"{BASE}/akinon/orders/",
        start="{{ params.start }}T00:00:00Z",
        end="{{ params.end }}T00:00:00Z",
        partition_by="P1D",  # date=YYYY-MM-DD/ each, its own manifest
        pool=POOL,
    )
    # [END howto_operator_akinon_partitions]
