"""Changes merged into a table, Delta or Iceberg alike: the current state of every order, whatever the order of runs.

Five days of ``modified_date`` windows are exported with ``file_format="delta"`` or ``"iceberg"`` in
shuffled order, with status changes and new orders between runs: the table must equal the fake server's
current state, row for row, and DuckDB must read it so. A rerun commits nothing; an older window never
overwrites a newer version; a merge killed mid-way leaves the previous version; two merges at once both
land; Akinon's deletions reach the table and stay under replays. Delta on a folder and on moto's S3
server, Iceberg on a folder (a SQL catalog on SQLite beside the table). The merge and deletion rules
themselves: ``tests/exports/test_current_state.py``.
"""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from airflow_provider_akinon.exports import apply_deletions, destination_path
from airflow_provider_akinon.operators.akinon import FetchAkinonListOperator
from airflow_provider_akinon.testing.data import parse_ts
from tests.support.changes import DAYS, change_orders_of, changes_tenant, current_state
from tests.support.tables import Table

NEEDS = {"delta": "deltalake", "iceberg": "pyiceberg"}


def placed(file_format: str, where: str, request, tmp_path) -> Table:
    pytest.importorskip(NEEDS[file_format], reason=f"file_format={file_format!r} needs its extra")
    if where == "file":
        return Table(file_format, str(tmp_path / "current" / "orders"))
    return Table(file_format, f"{request.getfixturevalue('s3_dest')}/current/orders/")


@pytest.fixture(params=["delta-file", "delta-s3", "iceberg-file"])
def table(request, tmp_path) -> Table:
    """A table of each format, where this provider writes it."""
    return placed(*request.param.split("-"), request, tmp_path)


@pytest.fixture(params=["delta", "iceberg"])
def local_table(request, tmp_path) -> Table:
    """A table of each format in a folder (DuckDB reads it there)."""
    return placed(request.param, "file", request, tmp_path)


@pytest.fixture
def tenant(monkeypatch):
    with changes_tenant(monkeypatch) as server:
        yield server


def test_shuffled_days_of_changes_merge_into_the_current_state_and_a_rerun_changes_nothing(tenant, table):
    data, rng = tenant.data, random.Random(7)
    days = DAYS[:]
    rng.shuffle(days)
    versions = []
    for day in days:
        change_orders_of(data, day, rng)
        versions.append(table.export(day)["table_version"])
    assert versions == sorted(versions)
    assert table.rows() == current_state(data)

    version = table.version()
    summary = table.export(rng.choice(DAYS))  # a rerun of a window: nothing changes
    assert (summary["inserted"], summary["updated"]) == (0, 0)
    assert table.version() == version
    assert table.rows() == current_state(data)
    assert not list(destination_path(table.path).glob("_akinon/staging/*/*"))


def test_duckdb_reads_revenue_by_status_from_the_table(tenant, local_table):
    for day in DAYS:
        local_table.export(day)
    rows = local_table.sql(
        "SELECT status, count(*), sum(amount) FROM {table} GROUP BY status ORDER BY status"
    )
    expected: dict[str, list] = {}
    for order in current_state(tenant.data).values():
        bucket = expected.setdefault(order["status"], [0, Decimal("0")])
        bucket[0] += 1
        bucket[1] += Decimal(order["amount"])
    assert [(status, n, Decimal(total)) for status, n, total in rows] == [
        (status, n, total) for status, (n, total) in sorted(expected.items())
    ]


def test_an_older_window_never_overwrites_a_newer_version(tenant, table):
    data = tenant.data
    order_id = data.order_ids("modified_date", parse_ts("2026-01-02"), parse_ts("2026-01-03"))[0]
    table.export("2026-01-02")
    data.modify_order(order_id, modified=parse_ts("2026-01-04T10:00:00"), status="600")
    table.export("2026-01-04")
    assert table.rows()[order_id]["status"] == "600"
    data.modify_order(order_id, modified=parse_ts("2026-01-02T10:00:00"), status="100")  # an older version
    table.export("2026-01-02")
    assert table.rows()[order_id]["status"] == "600"


def test_a_merge_killed_mid_way_leaves_the_previous_version(tenant, table, tmp_path):
    table.export("2026-01-02")
    before, version = table.rows(), table.version()
    tenant.data.modify_order(tenant.data.ids[5], modified=parse_ts("2026-01-03T05:00:00"), status="600")
    table.kill_a_merge(tmp_path / "merging", "2026-01-03")
    assert table.version() == version
    assert table.rows() == before


def test_two_merges_into_one_table_at_once_both_land(tenant, table):
    table.export("2026-01-01")
    assert table.merge_both_at_once(DAYS[1:3]) == [0, 0]
    assert table.rows() == current_state(tenant.data, DAYS[3])


def test_deletions_reach_the_table_and_stay_under_replays(tenant, local_table, tmp_path):
    """Akinon's deleted_items applied to the table: DuckDB no longer shows the deleted orders."""
    table = local_table
    for day in DAYS:
        table.export(day)
    in_table = sorted(table.rows())
    gone, kept = in_table[:3], in_table[3]
    for order_id in gone:
        tenant.data.delete_order(order_id, at=tenant.data.end + 3600)  # after every version
    tenant.data.delete_order(kept, at=tenant.data.start - 86400)  # before its version: it stays
    deletions = FetchAkinonListOperator(
        task_id="d", endpoint="deleted_items", date_field="deleted_date",
        start="2025-12-01", end="2026-01-07", destination=str(tmp_path / "deleted"),
    ).execute({})  # fmt: skip
    assert apply_deletions(deletions, table.path)["deleted"] == 3
    live = "SELECT id FROM {table} WHERE _deleted_at IS NULL"
    assert {row[0] for row in table.sql(live)} == set(in_table) - set(gone)
    assert apply_deletions(deletions, table.path)["deleted"] == 0  # applied twice: nothing more to mark
    for day in DAYS:  # every window replayed, older than the deletions: the deleted stay deleted
        table.export(day)
    assert {row[0] for row in table.sql(live)} == set(in_table) - set(gone)
    assert set(table.rows()) == set(in_table) - set(gone)
