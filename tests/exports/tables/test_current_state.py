"""Merges and deletions commute (property-based): in any order, replayed any number of times, windows of changes
and batches of deletions leave the same live rows in a table of orders and in one of their items, whether
the table is Delta (merged by SQL) or Iceberg (merged in Python by the same rules)."""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

pytest.importorskip("deltalake", reason="the current state needs the [delta] extra")
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_akinon.exports import apply_deletions, destination_path
from airflow_provider_akinon.exports.formats.parquet import schema_for
from airflow_provider_akinon.exports.tables.current import merge_into_table, open_table, table_location
from airflow_provider_akinon.exports.tables.iceberg import merge_into_iceberg
from airflow_provider_akinon.resources import ORDER_ITEMS, ORDERS

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ORDER_KEYS = (1, 2, 3, 4)


def at(minute: int) -> datetime:
    return T0 + timedelta(minutes=minute)


def stamp(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def order(key: int, minute: int) -> dict:
    return {"id": key, "status": f"s{minute}", "modified_date": stamp(at(minute)), "number": f"n{key}"}


def item(pk: int, parent: int, minute: int) -> dict:
    return {"pk": pk, "order": parent, "status": f"s{minute}", "modified_date": stamp(at(minute))}


def write_parts(folder: Path, resource, records: list[dict]) -> list:
    """A window's records as a staged Parquet part, typed as an export writes them."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = schema_for(resource)
    rows = []
    for r in records:
        row = {name: None for name in schema.names}
        row.update({k: v for k, v in r.items() if k in schema.names and k != "modified_date"})
        row["modified_date"] = r["modified_date"] and datetime.fromisoformat(r["modified_date"])
        row["_record"] = orjson.dumps(r).decode()
        rows.append(row)
    folder.mkdir(parents=True)
    # a row group a record, as an export writes a row group a page: a merge reads them a chunk at a time
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), folder / "part-00000.parquet", row_group_size=1)
    return [destination_path(str(folder / "part-00000.parquet"))]


def write_deletions(folder: Path, deletions: list[tuple[int, int]]) -> str:
    """An export of ``deleted_items`` (part and manifest), as the provider publishes one."""
    lines = b"".join(
        orjson.dumps({"object_id": k, "content_type_model": "order", "deleted_date": stamp(at(m))}) + b"\n"
        for k, m in deletions
    )
    folder.mkdir(parents=True)
    (folder / "part-00000-0000000d.jsonl").write_bytes(lines)
    entry = {"name": "part-00000-0000000d.jsonl", "records": len(deletions), "bytes": len(lines)}
    entry["sha256"] = hashlib.sha256(lines).hexdigest()
    manifest = {"format": "jsonl", "version": 1, "created_at": stamp(at(10_000)), "files": [entry]}
    (folder / "_manifest.json").write_bytes(orjson.dumps(manifest))
    return str(folder)


def delta_rows(table: str) -> list[dict]:
    uri, options = table_location(destination_path(table))
    return open_table(uri, None, options).to_pyarrow_table().to_pylist()


def iceberg_rows(table: str) -> list[dict]:
    from airflow_provider_akinon.exports.tables.iceberg_table import open_table as open_iceberg

    return open_iceberg(destination_path(table), None).scan().to_arrow().to_pylist()


#: each table format: how a window is merged into it, and how its rows are read back
TABLE_FORMATS = {"delta": (merge_into_table, delta_rows), "iceberg": (merge_into_iceberg, iceberg_rows)}
WITHOUT_PYICEBERG = pytest.mark.skipif(
    importlib.util.find_spec("pyiceberg") is None, reason="the [iceberg] extra (Airflow 3)"
)


def live_rows(table: str, key: str, table_format: str = "delta") -> tuple[dict, dict]:
    """The live rows (key -> the record held) and the deleted ones (key -> when)."""
    rows = TABLE_FORMATS[table_format][1](table)
    assert len({r[key] for r in rows}) == len(rows), "a key stands in the table twice"
    live = {r[key]: orjson.loads(r["_record"]) for r in rows if r["_deleted_at"] is None and r[key] > 0}
    gone = {r[key]: r["_deleted_at"] for r in rows if r["_deleted_at"] is not None and r[key] > 0}
    return live, gone


def expected(versions: dict, deletions: list[tuple[int, int]], parent_of=None) -> tuple[dict, dict]:
    """The rule: a row is its newest version, deleted where its (parent's) newest deletion is not older."""
    newest_deletion: dict[int, int] = {}
    for key, minute in deletions:
        newest_deletion[key] = max(minute, newest_deletion.get(key, minute))
    live, gone = {}, {}
    for key, records in versions.items():
        record = max(records, key=lambda r: r["modified_date"])
        minute = int((datetime.fromisoformat(record["modified_date"]) - T0).total_seconds() // 60)
        deleted = newest_deletion.get(parent_of(key) if parent_of else key)
        if deleted is not None and deleted >= minute:
            gone[key] = at(deleted)
        else:
            live[key] = record
    if parent_of is None:  # an order deleted before any version of it came: its tombstone
        gone.update({key: at(minute) for key, minute in newest_deletion.items() if key not in versions})
    return live, gone


minutes = st.integers(min_value=0, max_value=60)
versions_of_orders = st.dictionaries(
    st.sampled_from(ORDER_KEYS), st.lists(minutes, min_size=1, max_size=3, unique=True), min_size=1
)
deletion_batches = st.lists(
    st.lists(st.tuples(st.sampled_from(ORDER_KEYS), minutes), min_size=1, max_size=3), max_size=3
)


@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(versions=versions_of_orders, batches=deletion_batches, data=st.data())
@pytest.mark.parametrize("table_format", ["delta", pytest.param("iceberg", marks=WITHOUT_PYICEBERG)])
def test_merges_and_deletions_commute_in_any_order_and_replayed(
    tmp_path_factory, monkeypatch, table_format, versions, batches, data
):
    """Each order's versions split into windows (a window holds at most one version of an order, as a
    modified_date window does), every window and deletion batch applied in a drawn order, some replayed;
    a merge decides two staged records at a time (several chunks a commit)."""
    from airflow_provider_akinon.exports.tables import format as tables

    monkeypatch.setattr(tables, "CHUNK", 2)
    root = tmp_path_factory.mktemp("current")
    records = {k: [order(k, m) for m in ms] for k, ms in versions.items()}
    items = {
        10 * k + n: [item(10 * k + n, k, m + n) for m in ms] for k, ms in versions.items() for n in (1, 2)
    }
    windows = [
        [rs[i] for rs in table.values() if i < len(rs)] for table in (records, items) for i in range(3)
    ]
    operations = [("orders", w) for w in windows[:3] if w] + [("items", w) for w in windows[3:] if w]
    operations += [("deletions", batch) for batch in batches]
    replays = data.draw(st.lists(st.sampled_from(operations), max_size=3), label="replays")
    order_of_operations = data.draw(st.permutations(operations + replays), label="order")
    tables = {"orders": str(root / "orders"), "items": str(root / "items")}
    counter = itertools.count()
    for kind, payload in order_of_operations:
        folder = root / f"op{next(counter)}"
        if kind == "deletions":
            export = write_deletions(folder, payload)
            apply_deletions(export, tables["orders"], match="id", table_format=table_format)
            apply_deletions(
                export, tables["items"], match="order", resource="order_items", table_format=table_format
            )
            continue
        resource = ORDERS if kind == "orders" else ORDER_ITEMS
        merge = TABLE_FORMATS[table_format][0]
        merge(resource, destination_path(tables[kind]), write_parts(folder, resource, payload), at(5_000))
    deletions = [d for batch in batches for d in batch]
    assert live_rows(tables["orders"], "id", table_format) == expected(records, deletions)
    assert live_rows(tables["items"], "pk", table_format) == expected(
        items, deletions, parent_of=lambda pk: pk // 10
    )
