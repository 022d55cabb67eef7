"""Changes merged into an Apache Iceberg table (PyIceberg, a SQL catalog on SQLite in the table's folder).

Five days of ``modified_date`` windows exported with ``file_format="iceberg"`` in shuffled order, with
status changes and new orders between runs, equal the fake server's current state, read back with
PyIceberg and with DuckDB's iceberg extension; a rerun commits nothing; an older window never overwrites
a newer version; a merge killed mid-way leaves the snapshot as it was; two merges at once both land;
Akinon's deletions reach the table. (The merge and deletion rules: ``tests/exports/test_current_state.py``.)
"""

from __future__ import annotations

import json
import random
import site
from decimal import Decimal
from functools import partial
from pathlib import Path

import pytest

pytest.importorskip("pyiceberg", reason="file_format='iceberg' needs the [iceberg] extra (Airflow 3)")

from airflow_provider_akinon.exports import apply_deletions, destination_path
from airflow_provider_akinon.exports.output.iceberg_table import open_table
from airflow_provider_akinon.operators.akinon import FetchAkinonListOperator, FetchOrdersOperator
from airflow_provider_akinon.testing.data import parse_ts
from tests.support.changes import (
    DAYS,
    change_orders_of,
    changes_tenant,
    current_state,
    export_changes,
    kill_at,
    merge_both_at_once,
)

DUCKDB_EXTENSIONS = "duckdb_ext/extensions/v1.4.4/linux_amd64"
export = partial(export_changes, file_format="iceberg")


def snapshot(table: str) -> int | None:
    current = open_table(destination_path(table), None).current_snapshot()
    return current.snapshot_id if current else None


def table_rows(table: str, live_only: bool = True) -> dict[int, dict]:
    """Order id -> the record in the table (its ``_record``), checked against its typed columns."""
    rows = open_table(destination_path(table), None).scan().to_arrow().to_pylist()
    assert len({row["id"] for row in rows}) == len(rows), "a key stands in the table twice"
    state = {}
    for row in rows:
        if live_only and row["_deleted_at"] is not None:
            continue
        record = json.loads(row["_record"])
        assert (row["id"], row["status"]) == (record["id"], record["status"])
        assert row["amount"] == Decimal(record["amount"])
        state[row["id"]] = record
    return state


def duckdb_sql(table: str, query: str) -> list[tuple]:
    """``query`` over the table (``{table}``), by DuckDB's iceberg extension from PyPI (no download)."""
    import duckdb

    con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
    for extension in ("avro", "iceberg"):  # from PyPI (duckdb-ext-*), never downloaded
        con.execute(
            f"LOAD '{Path(site.getsitepackages()[0]) / DUCKDB_EXTENSIONS / extension}.duckdb_extension'"
        )
    metadata = open_table(destination_path(table), None).metadata_location
    return con.execute(query.format(table=f"iceberg_scan('{metadata}')")).fetchall()


@pytest.fixture
def tenant(monkeypatch):
    with changes_tenant(monkeypatch) as server:
        yield server


def test_shuffled_days_of_changes_equal_the_current_state_read_by_pyiceberg_and_duckdb(tenant, tmp_path):
    table, data, rng = str(tmp_path / "orders"), tenant.data, random.Random(7)
    days = DAYS[:]
    rng.shuffle(days)
    versions = []
    for day in days:
        change_orders_of(data, day, rng)
        versions.append(export(table, day)["table_version"])
    assert versions == sorted(versions)
    assert table_rows(table) == current_state(data)
    rows = duckdb_sql(
        table, "SELECT status, count(*), sum(amount) FROM {table} GROUP BY status ORDER BY status"
    )
    expected: dict[str, list] = {}
    for order in current_state(data).values():
        bucket = expected.setdefault(order["status"], [0, Decimal("0")])
        bucket[0] += 1
        bucket[1] += Decimal(order["amount"])
    assert [(s, n, Decimal(total)) for s, n, total in rows] == [
        (s, n, total) for s, (n, total) in sorted(expected.items())
    ]

    before = snapshot(table)
    summary = export(table, rng.choice(DAYS))  # a rerun of a window: no commit
    assert (summary["inserted"], summary["updated"]) == (0, 0)
    assert snapshot(table) == before
    assert not list(destination_path(table).glob("_akinon/staging/*/*"))


def test_an_older_window_never_overwrites_a_newer_version(tenant, tmp_path):
    table, data = str(tmp_path / "orders"), tenant.data
    order_id = data.order_ids("modified_date", parse_ts("2026-01-02"), parse_ts("2026-01-03"))[0]
    export(table, "2026-01-02")
    data.modify_order(order_id, modified=parse_ts("2026-01-04T10:00:00"), status="600")
    export(table, "2026-01-04")
    data.modify_order(order_id, modified=parse_ts("2026-01-02T10:00:00"), status="100")  # an older version
    export(table, "2026-01-02")
    assert table_rows(table)[order_id]["status"] == "600"


def test_a_merge_killed_at_its_commit_leaves_the_snapshot_unchanged(tenant, tmp_path):
    table = str(tmp_path / "orders")
    export(table, "2026-01-02")
    before, version = table_rows(table), snapshot(table)
    tenant.data.modify_order(tenant.data.ids[5], modified=parse_ts("2026-01-03T05:00:00"), status="600")
    where = ("pyiceberg.table", "Transaction", "commit_transaction")  # held there, then killed
    kill_at(where, tmp_path / "committing", table, "2026-01-03", "iceberg", hold=True)
    assert snapshot(table) == version
    assert table_rows(table) == before


def test_two_merges_into_one_table_at_once_both_land(tenant, tmp_path):
    table = str(tmp_path / "orders")
    export(table, "2026-01-01")
    where = ("airflow_provider_akinon.exports.output.iceberg", "merge_into_iceberg")
    assert merge_both_at_once(where, table, DAYS[1:3], "iceberg") == [0, 0]
    assert table_rows(table) == current_state(tenant.data, DAYS[3])


def test_deletions_reach_the_table_and_stay_under_replays(tenant, tmp_path):
    table = str(tmp_path / "orders")
    for day in DAYS:
        export(table, day)
    in_table = sorted(table_rows(table))
    gone, kept = in_table[:3], in_table[3]
    for order_id in gone:
        tenant.data.delete_order(order_id, at=tenant.data.end + 3600)  # after every version
    tenant.data.delete_order(kept, at=tenant.data.start - 86400)  # before its version: it stays
    deletions = FetchAkinonListOperator(
        task_id="d", endpoint="deleted_items", date_field="deleted_date",
        start="2025-12-01", end="2026-01-07", destination=str(tmp_path / "deleted"),
    ).execute({})  # fmt: skip
    assert apply_deletions(deletions, table)["deleted"] == 3
    live = "SELECT id FROM {table} WHERE _deleted_at IS NULL"
    assert {row[0] for row in duckdb_sql(table, live)} == set(in_table) - set(gone)
    assert apply_deletions(deletions, table)["deleted"] == 0  # applied twice: nothing more to mark
    for day in DAYS:  # every window replayed, older than the deletions: the deleted stay deleted
        export(table, day)
    assert {row[0] for row in duckdb_sql(table, live)} == set(in_table) - set(gone)


def test_a_week_of_changes_on_a_drf_tenant_under_writes_ends_as_its_database(tmp_path, monkeypatch):
    """Seven daily modified_date windows merged while a Django REST Framework tenant inserts, updates and
    deletes orders; then the shop closes, a last window and the deletions: the table is the database,
    read with PyIceberg and with DuckDB."""
    pytest.importorskip("rest_framework")
    from datetime import UTC, datetime, timedelta

    from tests.drf_tenant.tenant import drf_tenant

    this_hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    week = this_hour - timedelta(days=7)
    table, lake = str(tmp_path / "iceberg" / "orders"), tmp_path / "changes"

    def window(start: datetime, end: datetime, name: str) -> None:
        FetchOrdersOperator(
            task_id=name, destination=table, date_field="modified_date", start=start, end=end,
            file_format="iceberg",
        ).execute({})  # fmt: skip

    with drf_tenant(
        tmp_path / "tenant", orders=350, days=7, until=0, inserts=2, updates=3, deletes=1
    ) as tenant:
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
        apply_deletions(deletions, table)
        database = tenant.current()
        deleted = tenant.rows("deleted_items", "object_id")
    rows = open_table(destination_path(table), None).scan().to_arrow().to_pylist()
    live = {r["id"]: (r["status"], r["modified_date"]) for r in rows if r["_deleted_at"] is None}
    assert len(database) > 350
    assert len(deleted) > 3
    assert live == database
    assert {row[0] for row in duckdb_sql(table, "SELECT id FROM {table} WHERE _deleted_at IS NULL")} == set(
        database
    )
