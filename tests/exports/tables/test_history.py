"""History tables (property-based): every version the exports saw, once; replays and out-of-order windows
change nothing; a later window never closes a newer version; deletions end the version they delete.

The rule is checked on its own (many drawn cases, in memory) and through real Delta and Iceberg tables."""

from __future__ import annotations

import importlib.util
import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_akinon.exports.tables.history import decided_rows
from airflow_provider_akinon.exports.tables.versions import (
    CURRENT,
    DELETED,
    VALID_FROM,
    VALID_TO,
    is_deletion,
    row_id,
)
from tests.exports.tables.test_current_state import order, write_deletions, write_parts

T0 = datetime(2026, 1, 1, tzinfo=UTC)
KEYS = (1, 2, 3)


def at(minute: int) -> datetime:
    return T0 + timedelta(minutes=minute)


def version(key: int, minute: int) -> dict:
    return {"id": key, "modified_date": at(minute), "status": f"s{minute}", DELETED: None}


def deletion(key: int, minute: int) -> dict:
    return {"id": key, "modified_date": None, DELETED: at(minute)}


def unversioned(key: int, minute: int) -> dict:
    """A version whose modified_date is NULL, seen by an export at ``minute``: it starts then."""
    return {
        "id": key,
        "modified_date": None,
        "status": f"n{minute}",
        DELETED: None,
        "_exported_at": at(minute),
    }


def model(versions: set[tuple[int, int]], deletions: set[tuple[int, int]]) -> set[tuple]:
    """Each version once, valid until the next version or the first deletion before it; deletions kept."""
    rows = {(k, at(m), None, False, at(m)) for k, m in deletions}
    for key, minute in versions:
        later = [m for k, m in versions if k == key and m > minute]
        following = min(later) if later else None
        ends = [m for k, m in deletions if k == key and m >= minute and (following is None or m < following)]
        ended = min(ends) if ends else None
        until = ended if ended is not None else following
        rows.add(
            (
                key,
                at(minute),
                at(until) if until is not None else None,
                until is None,
                at(ended) if ended is not None else None,
            )
        )
    return rows


def shape(rows: list[dict]) -> set[tuple]:
    found = [(r["id"], r[VALID_FROM], r[VALID_TO], r[CURRENT], r[DELETED]) for r in rows]
    assert len(found) == len({row_id(r, "id", "modified_date") for r in rows}), "a row stands twice"
    return set(found)


minutes = st.integers(min_value=0, max_value=30)
batches = st.lists(
    st.lists(
        st.one_of(
            st.tuples(st.just("v"), st.sampled_from(KEYS), minutes),
            st.tuples(st.just("d"), st.sampled_from(KEYS), minutes),
            st.tuples(st.just("n"), st.sampled_from(KEYS), minutes),  # NULL modified_date, seen at minute
        ),
        min_size=1,
        max_size=4,
    ),
    min_size=1,
    max_size=5,
)


def rows_of(batch: list[tuple]) -> list[dict]:
    return [{"v": version, "d": deletion, "n": unversioned}[kind](k, m) for kind, k, m in batch]


def apply(table: dict[tuple, dict], batch: list[tuple]) -> None:
    """A table in memory: the decided rows replace those with the same key and valid_from."""
    for row in decided_rows(list(table.values()), rows_of(batch), "id", "modified_date"):
        table[row_id(row, "id", "modified_date")] = row


@settings(max_examples=300, deadline=None, derandomize=True)
@given(batches=batches, data=st.data())
def test_the_history_rule_is_the_same_in_any_order_and_replayed(batches, data):
    order = data.draw(st.permutations(batches + data.draw(st.lists(st.sampled_from(batches), max_size=3))))
    table: dict[tuple, dict] = {}
    for batch in order:
        apply(table, batch)
    seen = [item for batch in batches for item in batch]
    versions = {(k, m) for kind, k, m in seen if kind in "vn"}  # a NULL version starts when it was seen
    deletions = {(k, m) for kind, k, m in seen if kind == "d"}
    assert shape(list(table.values())) == model(versions, deletions)
    current = [r for r in table.values() if r[CURRENT]]
    assert len(current) == len({r["id"] for r in current})  # one current row per record at most


WITHOUT_PYICEBERG = pytest.mark.skipif(
    importlib.util.find_spec("pyiceberg") is None, reason="the [iceberg] extra (Airflow 3)"
)


@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(batches=batches, data=st.data())
@pytest.mark.parametrize("table_format", ["delta", pytest.param("iceberg", marks=WITHOUT_PYICEBERG)])
def test_a_history_table_takes_windows_and_deletions_in_any_order(
    tmp_path_factory, monkeypatch, table_format, batches, data
):
    from airflow_provider_akinon.exports.tables import format as tables

    monkeypatch.setattr(tables, "CHUNK", 2)  # records decided a chunk at a time: several chunks a commit
    pytest.importorskip("deltalake")
    from airflow_provider_akinon.exports import destination_path

    root = tmp_path_factory.mktemp("history")
    table = destination_path(str(root / "orders"))
    order_of = data.draw(st.permutations(batches + data.draw(st.lists(st.sampled_from(batches), max_size=2))))

    def record(key: int, minute: int, versioned: bool) -> dict:
        return order(key, minute) if versioned else {**order(key, minute), "modified_date": None}

    replay(order_of, root, table, table_format, True, record)
    rows = _read(table_format, str(table))
    seen = [item for batch in batches for item in batch]
    versions = {(k, m) for kind, k, m in seen if kind in "vn"}
    deletions = {(k, m) for kind, k, m in seen if kind == "d"}
    assert shape(rows) == model(versions, deletions)


def replay(order_of: list, root, table, table_format: str, history, record) -> None:
    """Merge the drawn batches, in ``order_of``, into the history ``table`` (laid out as ``history`` says) as
    exports would: a batch's versions in windows holding one version of a record each (as a modified_date
    window does), each NULL version by an export of its own, then its deletions. ``record(key, minute,
    versioned)``: the record a version is."""
    from airflow_provider_akinon.exports import apply_deletions
    from airflow_provider_akinon.exports.tables.merging import table_format_at
    from airflow_provider_akinon.resources import ORDERS

    counter = itertools.count()
    chosen = table_format_at(table, table_format, history=history)
    for batch in order_of:
        windows: list[list[dict]] = []
        for kind, key, minute in batch:
            if kind == "v":
                free = next((w for w in windows if all(r["id"] != key for r in w)), None)
                if free is None:
                    windows.append(free := [])
                free.append(record(key, minute, True))
        for records in windows:
            chosen.merge(ORDERS, table, write_parts(root / f"w{next(counter)}", ORDERS, records), at(5_000))
        for _, key, minute in [item for item in batch if item[0] == "n"]:  # each seen by an export of its own
            parts = write_parts(root / f"n{next(counter)}", ORDERS, [record(key, minute, False)])
            chosen.merge(ORDERS, table, parts, at(minute))
        gone = [(k, m) for kind, k, m in batch if kind == "d"]
        if gone:
            export = write_deletions(root / f"d{next(counter)}", gone)
            apply_deletions(export, str(table), history=history, table_format=table_format)


def _read(table_format: str, table: str) -> list[dict]:
    from airflow_provider_akinon.exports import destination_path

    if table_format == "iceberg":
        from airflow_provider_akinon.exports.tables.iceberg_table import open_table

        return open_table(destination_path(table), None).scan().to_arrow().to_pylist()
    from deltalake import DeltaTable

    return DeltaTable(table).to_pyarrow_table().to_pylist()


@pytest.mark.parametrize("table_format", [pytest.param("iceberg", marks=WITHOUT_PYICEBERG)])
def test_three_hours_of_a_drf_tenant_under_writes_keep_exactly_the_versions_seen(
    tmp_path, monkeypatch, table_format
):
    """Hourly changes windows of a Django REST Framework tenant that inserts, updates and deletes orders,
    merged into a history table: it holds exactly the versions the exports saw, one current row per live
    order (the database), and replaying every window and the deletions in another order changes nothing."""
    pytest.importorskip("rest_framework")
    pytest.importorskip("deltalake")
    import random

    from airflow_provider_akinon.exports import apply_deletions, iter_export_records, merge_export
    from airflow_provider_akinon.operators.akinon import FetchAkinonListOperator, FetchOrdersOperator
    from airflow_provider_akinon.timestamps import parse_instant
    from tests.drf_tenant.tenant import BUSY_SHOP, drf_tenant

    this_hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    table, lake = str(tmp_path / "history" / "orders"), tmp_path / "changes"
    merge = {"table_format": table_format, "history": True}

    def window(start: datetime, end: datetime, name: str) -> dict:
        export = FetchOrdersOperator(
            task_id=name, destination=str(lake / name), date_field="modified_date", start=start, end=end,
            file_format="parquet",
        ).execute({})  # fmt: skip
        merge_export(export, table, **merge)
        return export

    with drf_tenant(
        tmp_path / "tenant", orders=400, days=3 / 24, until=0, least_deleted=1, **BUSY_SHOP
    ) as tenant:
        monkeypatch.setenv("AIRFLOW_CONN_AKINON_DEFAULT", tenant.connection_json())
        exports = [
            window(this_hour - timedelta(hours=h), this_hour - timedelta(hours=h - 1), f"h{h}")
            for h in (3, 2, 1)
        ]
        tenant.stop_writes()
        exports.append(window(this_hour, datetime.now(UTC), "final"))
        deletions = FetchAkinonListOperator(
            task_id="deletions", endpoint="deleted_items", date_field="deleted_date",
            start=this_hour - timedelta(hours=4), end=datetime.now(UTC), destination=str(lake / "deleted"),
        ).execute({})  # fmt: skip
        apply_deletions(deletions, table, **merge)
        database = tenant.current()
    seen = {
        (r["id"], parse_instant(r["modified_date"]))
        for export in exports
        for r in iter_export_records(export["uri"])
    }
    rows = _read(table_format, table)
    versions = [r for r in rows if not is_deletion(r, "modified_date")]
    assert {(r["id"], r[VALID_FROM]) for r in versions} == seen
    assert len(versions) == len(seen)  # each seen once
    current = {r["id"]: (r["status"], r[VALID_FROM]) for r in versions if r[CURRENT]}
    assert current == database
    assert len(database) > 400
    listed = {
        (int(d["object_id"]), parse_instant(d["deleted_date"])) for d in iter_export_records(deletions["uri"])
    }
    assert listed  # the shop deleted orders meanwhile
    assert {(r["id"], r[DELETED]) for r in rows if is_deletion(r, "modified_date")} == listed  # each a row

    before = shape(rows)
    replay = [*exports]
    random.Random(3).shuffle(replay)
    for export in replay:  # every window again, in another order, and the deletions again
        merge_export(export, table, **merge)
    apply_deletions(deletions, table, **merge)
    assert shape(_read(table_format, table)) == before
