"""Changes merged into an Apache Iceberg table by a Django REST Framework tenant under writes, for a week.

The rules every table format keeps (current state, reruns, kills, concurrent merges, deletions):
``tests/exports/output/test_tables.py``; the merge and deletion rules: ``tests/exports/test_current_state.py``.
"""

from __future__ import annotations

import pytest

pytest.importorskip("pyiceberg", reason="file_format='iceberg' needs the [iceberg] extra (Airflow 3)")

from airflow_provider_akinon.exports import apply_deletions
from airflow_provider_akinon.operators.akinon import FetchAkinonListOperator, FetchOrdersOperator
from tests.support.tables import Table


def test_a_week_of_changes_on_a_drf_tenant_under_writes_ends_as_its_database(tmp_path, monkeypatch):
    """Seven daily modified_date windows merged while a Django REST Framework tenant inserts, updates and
    deletes orders; then the shop closes, a last window and the deletions: the table is the database,
    read with PyIceberg and with DuckDB."""
    pytest.importorskip("rest_framework")
    from datetime import UTC, datetime, timedelta

    from tests.drf_tenant.tenant import BUSY_SHOP, drf_tenant

    this_hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    week = this_hour - timedelta(days=7)
    table, lake = Table("iceberg", str(tmp_path / "iceberg" / "orders")), tmp_path / "changes"

    def window(start: datetime, end: datetime, name: str) -> None:
        FetchOrdersOperator(
            task_id=name, destination=table.path, date_field="modified_date", start=start, end=end,
            file_format="iceberg",
        ).execute({})  # fmt: skip

    with drf_tenant(tmp_path / "tenant", orders=350, days=7, until=0, least_deleted=4, **BUSY_SHOP) as tenant:
        monkeypatch.setenv("AIRFLOW_CONN_AKINON_DEFAULT", tenant.connection_json())
        for day in range(7):
            window(week + timedelta(days=day), week + timedelta(days=day + 1), f"day{day}")
        tenant.stop_writes()
        closed = datetime.now(UTC)
        window(this_hour, closed, "final")
        deletions = FetchAkinonListOperator(
            task_id="deletions", endpoint="deleted_items", date_field="deleted_date",
            start=week - timedelta(days=1), end=closed, destination=str(lake / "deleted"),
        ).execute({})  # fmt: skip
        apply_deletions(deletions, table.path)
        database = tenant.current()
        deleted = tenant.rows("deleted_items", "object_id")
    live = {r["id"]: (r["status"], r["modified_date"]) for r in table.raw_rows() if r["_deleted_at"] is None}
    assert len(database) > 350
    assert len(deleted) > 3
    assert live == database
    assert {row[0] for row in table.sql("SELECT id FROM {table} WHERE _deleted_at IS NULL")} == set(database)
