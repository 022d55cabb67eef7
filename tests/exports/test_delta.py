"""Changes merged into a Delta Lake table: the current state of every order, whatever the order of runs.

Five days of ``modified_date`` windows are exported with ``file_format="delta"`` in shuffled order, with
status changes and new orders between runs: the table must equal the fake server's current state, row
for row. A rerun changes nothing; a merge killed mid-way leaves the previous version; two merges at once
both land. On file:// and on moto's S3 server.
"""

from __future__ import annotations

import json
import random
import site
from decimal import Decimal
from functools import partial
from pathlib import Path

import pytest

from airflow_provider_akinon.errors import DestinationError

pytest.importorskip("deltalake", reason="file_format='delta' needs the [delta] extra")

from deltalake import DeltaTable

from airflow_provider_akinon.exports import destination_path
from airflow_provider_akinon.exports.output.delta import table_location
from airflow_provider_akinon.operators.akinon import FetchOrdersOperator
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

export = partial(export_changes, file_format="delta")


def open_table(table: str) -> DeltaTable:
    uri, options = table_location(destination_path(table))
    return DeltaTable(uri, storage_options=options)


def table_rows(table: str) -> dict[int, dict]:
    """Order id -> the record in the table (its ``_record``), checked against its typed columns."""
    rows = open_table(table).to_pyarrow_table().to_pylist()
    state = {}
    for row in rows:
        record = json.loads(row["_record"])
        assert row["id"] == record["id"]
        assert row["status"] == record["status"]
        assert row["amount"] == Decimal(record["amount"])
        state[row["id"]] = record
    assert len(state) == len(rows), "a key stands in the table twice"
    return state


@pytest.fixture
def tenant(monkeypatch):
    with changes_tenant(monkeypatch) as server:
        yield server


@pytest.fixture(params=["file", "s3"])
def table(request, tmp_path):
    if request.param == "file":
        return str(tmp_path / "current" / "orders")
    return f"{request.getfixturevalue('s3_dest')}/current/orders/"


def test_shuffled_days_of_changes_merge_into_the_current_state_and_a_rerun_changes_nothing(tenant, table):
    data, rng = tenant.data, random.Random(7)
    days = DAYS[:]
    rng.shuffle(days)
    versions = []
    for day in days:
        change_orders_of(data, day, rng)
        versions.append(export(table, day)["table_version"])
    assert versions == sorted(versions)
    assert table_rows(table) == current_state(data)

    version = open_table(table).version()
    summary = export(table, rng.choice(DAYS))  # a rerun of a window: nothing changes
    assert (summary["inserted"], summary["updated"]) == (0, 0)
    assert open_table(table).version() == version
    assert table_rows(table) == current_state(data)
    assert not list(destination_path(table).glob("_akinon/staging/*/*"))


def test_an_older_window_never_overwrites_a_newer_version(tenant, table):
    data = tenant.data
    order_id = data.order_ids("modified_date", parse_ts("2026-01-02"), parse_ts("2026-01-03"))[0]
    export(table, "2026-01-02")
    data.modify_order(order_id, modified=parse_ts("2026-01-04T10:00:00"), status="600")
    export(table, "2026-01-04")
    assert table_rows(table)[order_id]["status"] == "600"
    data.modify_order(order_id, modified=parse_ts("2026-01-02T10:00:00"), status="100")  # an older version
    export(table, "2026-01-02")
    assert table_rows(table)[order_id]["status"] == "600"


def test_a_merge_killed_mid_way_leaves_the_previous_version(tenant, table, tmp_path):
    export(table, "2026-01-02")
    before, version = table_rows(table), open_table(table).version()
    tenant.data.modify_order(tenant.data.ids[5], modified=parse_ts("2026-01-03T05:00:00"), status="600")
    where = ("deltalake.table", "TableMerger", "execute")  # killed once the merge has started
    kill_at(where, tmp_path / "merging", table, "2026-01-03", "delta", hold=False)
    assert open_table(table).version() == version
    assert table_rows(table) == before


def test_two_merges_into_one_table_at_once_both_land(tenant, table):
    export(table, "2026-01-01")
    where = ("airflow_provider_akinon.exports.output.delta", "merge_into_table")
    assert merge_both_at_once(where, table, DAYS[1:3], "delta") == [0, 0]
    assert table_rows(table) == current_state(tenant.data, DAYS[3])


def test_duckdb_reads_revenue_by_status_from_the_table(tenant, tmp_path):
    import duckdb

    table = str(tmp_path / "orders")
    for day in DAYS:
        export(table, day)
    extension = (
        Path(site.getsitepackages()[0]) / "duckdb_ext/extensions/v1.4.4/linux_amd64/delta.duckdb_extension"
    )
    con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
    con.execute(f"LOAD '{extension}'")
    rows = con.execute(
        f"SELECT status, count(*), sum(amount) FROM delta_scan('{table}') GROUP BY status ORDER BY status"
    ).fetchall()
    expected: dict[str, list] = {}
    for order in current_state(tenant.data).values():
        bucket = expected.setdefault(order["status"], [0, Decimal("0")])
        bucket[0] += 1
        bucket[1] += Decimal(order["amount"])
    assert [(status, n, Decimal(total)) for status, n, total in rows] == [
        (status, n, total) for status, (n, total) in sorted(expected.items())
    ]


def test_maintenance_compacts_small_files_and_vacuums_old_ones(tenant, tmp_path):
    from airflow_provider_akinon.exports.output.delta import maintain

    table = str(tmp_path / "orders")
    for day in DAYS:
        export(table, day)
    before = table_rows(table)
    files_before = len(open_table(table).file_uris())
    done = maintain(table, retention_days=0)
    assert done["files_removed"] == files_before > done["files_added"] == 1
    assert done["vacuumed"] >= files_before  # the compacted files are no longer referenced
    assert len(open_table(table).file_uris()) == 1
    assert table_rows(table) == before


def test_an_empty_window_merges_nothing_and_orders_from_refuses_a_table(tenant, tmp_path):
    from airflow_provider_akinon.operators.akinon import FetchOrderItemsOperator

    table = str(tmp_path / "orders")
    empty = FetchOrdersOperator(
        task_id="e", destination=table, date_field="modified_date", start="2020-01-01", end="2020-01-02",
        file_format="delta",
    ).execute({})  # fmt: skip
    assert (empty["records"], empty["table_version"]) == (0, None)
    summary = export(table, "2026-01-02")
    again = FetchOrdersOperator(
        task_id="e", destination=table, date_field="modified_date", start="2020-01-01", end="2020-01-02",
        file_format="delta",
    ).execute({})  # fmt: skip
    assert again["table_version"] == summary["table_version"]  # no empty commit
    with pytest.raises(DestinationError, match="is a Delta table"):
        FetchOrderItemsOperator(
            task_id="i", destination=str(tmp_path / "items"), orders_from=summary
        ).execute({})


def test_deletions_reach_the_current_state(tenant, tmp_path):
    """Akinon's deleted_items applied to the table: DuckDB no longer shows the deleted orders."""
    import duckdb

    from airflow_provider_akinon.exports import apply_deletions
    from airflow_provider_akinon.operators.akinon import FetchAkinonListOperator

    table = str(tmp_path / "orders")
    for day in DAYS:
        export(table, day)
    in_table = sorted(table_rows(table))
    gone, kept = in_table[:3], in_table[3]
    later = tenant.data.end + 3600  # deleted after every version in the table
    for order_id in gone:
        tenant.data.delete_order(order_id, at=later)
    tenant.data.delete_order(kept, at=tenant.data.start - 86400)  # deleted before its version: it stays
    deletions = FetchAkinonListOperator(
        task_id="d", endpoint="deleted_items", date_field="deleted_date",
        start="2025-12-01", end="2026-01-07", destination=str(tmp_path / "deleted"),
    ).execute({})  # fmt: skip
    applied = apply_deletions(deletions, table)
    assert applied["deleted"] == 3
    extension = (
        Path(site.getsitepackages()[0]) / "duckdb_ext/extensions/v1.4.4/linux_amd64/delta.duckdb_extension"
    )
    con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
    con.execute(f"LOAD '{extension}'")
    live = f"SELECT id FROM delta_scan('{table}') WHERE _deleted_at IS NULL"  # the live rows
    ids = {row[0] for row in con.execute(live).fetchall()}
    assert ids == set(in_table) - set(gone)
    assert kept in ids
    assert apply_deletions(deletions, table)["deleted"] == 0  # applied twice: nothing more to mark

    # a replay of every window, older than the deletions: the deleted orders stay deleted
    for day in DAYS:
        export(table, day)
    assert {row[0] for row in con.execute(live).fetchall()} == set(in_table) - set(gone)
