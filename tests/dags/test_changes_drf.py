"""The hourly changes DAG against a busy Django REST Framework tenant: its Delta table ends as the database.

Three ``dag.test()`` runs of ``akinon_order_changes`` export and merge the three hours before this one
while the tenant's writer inserts about 2 orders a second, updates about 3 (each update moves an order
out of its hour, into this one) and deletes one every few seconds (``deleted_items/``, which the DAG
applies). Then the shop closes and a final run covers this hour up to then: the current-state table
must equal the database, order for order, the deleted ones gone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

pytest.importorskip("rest_framework")
pytest.importorskip("deltalake")

from airflow_provider_akinon.exports import apply_deletions, merge_export
from airflow_provider_akinon.operators.akinon import FetchAkinonListOperator, FetchOrdersOperator
from tests.drf_tenant.tenant import BUSY_SHOP, drf_tenant

DAGS = Path(__file__).parents[2] / "dags"


def test_three_hours_of_changes_and_a_final_run_leave_the_current_state_of_the_database(
    airflow_db, tmp_path, monkeypatch
):
    from airflow.models.dagbag import DagBag
    from deltalake import DeltaTable

    this_hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    with drf_tenant(
        tmp_path / "tenant", orders=900, days=3 / 24, until=0, least_deleted=4, **BUSY_SHOP
    ) as tenant:
        monkeypatch.setenv("AIRFLOW_CONN_AKINON_DEFAULT", tenant.connection_json())
        monkeypatch.setenv("AIRFLOW_VAR_AKINON_EXPORT_BASE", str(tmp_path / "lake"))
        dag = DagBag(str(DAGS)).dags["akinon_order_changes"]
        for hours_ago in (3, 2, 1):
            ended = this_hour - timedelta(hours=hours_ago - 1)  # a manual run covers the hour that ended last
            try:
                run = dag.test(logical_date=ended)
            except TypeError:  # Airflow 2
                run = dag.test(execution_date=ended)
            assert str(run.state).endswith("success"), run.state
        tenant.stop_writes()
        closed = datetime.now(UTC)
        final = FetchOrdersOperator(
            task_id="final",
            destination=str(tmp_path / "lake" / "akinon" / "changes" / "orders" / "final"),
            date_field="modified_date",
            file_format="parquet",
            start=this_hour,
            end=closed,
        ).execute({})
        merge_export(final, str(tmp_path / "lake" / "akinon" / "current" / "orders"))
        deletions = FetchAkinonListOperator(
            task_id="final_deletions",
            endpoint="deleted_items",
            date_field="deleted_date",
            destination=str(tmp_path / "lake" / "akinon" / "changes" / "deleted_items" / "final"),
            start=this_hour - timedelta(hours=3),
            end=closed,
        ).execute({})
        apply_deletions(deletions, str(tmp_path / "lake" / "akinon" / "current" / "orders"))
        database = tenant.current()
        deleted = tenant.rows("deleted_items", "object_id")
    table = DeltaTable(str(tmp_path / "lake" / "akinon" / "current" / "orders")).to_pyarrow_table()
    merged = {  # the live rows: deleted orders stay in the table, marked (_deleted_at)
        key: (status, modified)
        for key, status, modified, deleted_at in zip(
            table.column("id").to_pylist(),
            table.column("status").to_pylist(),
            table.column("modified_date").to_pylist(),
            table.column("_deleted_at").to_pylist(),
            strict=True,
        )
        if deleted_at is None
    }
    assert len(database) > 900  # the seeded orders and those the shop added
    assert sum(1 for _, (_, at) in database.items() if at >= this_hour) > 20  # and those it updated
    assert len(deleted) > 3  # and those it deleted
    assert merged == database
