"""History tables laid out as a user asks (property-based): validity columns of their own names, an open end
of NULL or a high date, versions told by content (a new modified_date with the same content is no version),
deletions closing a version without a row of their own; children retired with their parent's deletion.

Every layout keeps the rule's promise: the same versions and deletions give the same rows in any order,
however often they come. Checked in memory against a model written apart from the rule, and through real
Delta and Iceberg tables."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_akinon.errors import AkinonConfigError, DestinationError
from airflow_provider_akinon.exports.tables.history import decided_rows
from airflow_provider_akinon.exports.tables.history_options import (
    GONE,
    HIGH_DATE,
    HistoryOptions,
)
from airflow_provider_akinon.exports.tables.versions import DELETED, is_deletion, row_id
from tests.exports.tables.test_current_state import stamp, write_deletions, write_parts
from tests.exports.tables.test_history import WITHOUT_PYICEBERG, _read, at, replay

KEY, VERSION = "id", "modified_date"

#: few keys and minutes, so that versions of one content, deletions between them and replays meet often
minutes = st.integers(min_value=0, max_value=11)
batches = st.lists(
    st.lists(st.tuples(st.sampled_from("vdn"), st.sampled_from((1, 2)), minutes), min_size=1, max_size=4),
    min_size=1,
    max_size=5,
)


def content(minute: int) -> str:
    """A record's content at ``minute``: the same for three minutes running (a new modified_date with the
    same content is frequent in a shop: a touch, a re-save)."""
    return f"c{minute // 3}"


def record(key: int, minute: int, *, versioned: bool = True) -> dict:
    return {"id": key, "status": content(minute), VERSION: stamp(at(minute)) if versioned else None}


def row(kind: str, key: int, minute: int) -> dict:
    """A version, a version whose modified_date is NULL (seen by an export at ``minute``), or a deletion."""
    if kind == "d":
        return {KEY: key, VERSION: None, DELETED: at(minute)}
    body = record(key, minute, versioned=kind == "v")
    return {
        KEY: key,
        VERSION: at(minute) if kind == "v" else None,
        "status": body["status"],
        DELETED: None,
        "_record": orjson.dumps(body).decode(),
        "_exported_at": at(minute),
    }


layouts = st.builds(
    HistoryOptions,
    valid_from=st.sampled_from(["valid_from", "effective_from"]),
    valid_to=st.sampled_from(["valid_to", "effective_to"]),
    is_current=st.sampled_from(["is_current", "current_flag"]),
    open_end=st.sampled_from([None, "high", "2999-01-01"]),
    version_on=st.sampled_from(["version", "content"]),
    deletion_rows=st.booleans(),
)


def model(seen: list[tuple], options: HistoryOptions) -> set[tuple]:
    """The rows the facts ``seen`` give under ``options``: (key, start, end, current, deletion), written
    from the rule's description, apart from its code."""
    rows = set()
    for key in {k for _, k, _ in seen}:
        starts = sorted({m for kind, k, m in seen if k == key and kind in "vn"})
        deletions = sorted({m for kind, k, m in seen if k == key and kind == "d"})
        kept: list[int] = []
        for start in starts:
            if (
                options.content
                and kept
                and content(start) == content(kept[-1])
                and not any(kept[-1] <= d < start for d in deletions)
            ):
                continue  # the same content again: no new version
            kept.append(start)
        ending = set()
        for n, start in enumerate(kept):
            following = kept[n + 1] if n + 1 < len(kept) else None
            ended = next((d for d in deletions if d >= start and (following is None or d < following)), None)
            ending.add(ended)
            until = ended if ended is not None else following
            end = at(until) if until is not None else options.open_end
            rows.add((key, at(start), end, until is None, at(ended) if ended is not None else None))
        for d in deletions:
            if options.deletion_rows or d not in ending:
                rows.add((key, at(d), None, False, at(d)))
    return rows


def shape(rows: list[dict], options: HistoryOptions) -> set[tuple]:
    names = (options.valid_from, options.valid_to, options.is_current)
    found = [(r[KEY], r[names[0]], r[names[1]], r[names[2]], r[DELETED]) for r in rows]
    ids = {row_id(options.inward(r), KEY, VERSION) for r in rows}
    assert len(found) == len(ids), "a row stands twice"
    return set(found)


def apply(table: dict[tuple, dict], batch: list[tuple], options: HistoryOptions) -> None:
    """A table in memory: decided rows replace those of the same key and start; rows gone leave."""
    coming = [row(*item) for item in batch]
    for decided in decided_rows(list(table.values()), coming, KEY, VERSION, options):
        rid = row_id(options.inward(decided), KEY, VERSION)
        if decided.get(GONE):
            del table[rid]
        else:
            table[rid] = decided


@settings(max_examples=400, deadline=None, derandomize=True)
@given(batches=batches, options=layouts, data=st.data())
def test_every_layout_gives_the_same_rows_in_any_order_and_replayed(batches, options, data):
    order = data.draw(st.permutations(batches + data.draw(st.lists(st.sampled_from(batches), max_size=3))))
    table: dict[tuple, dict] = {}
    for batch in order:
        apply(table, batch, options)
    seen = [item for batch in batches for item in batch]
    assert shape(list(table.values()), options) == model(seen, options)


@settings(
    max_examples=6,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(batches=batches, options=layouts, data=st.data())
@pytest.mark.parametrize("table_format", ["delta", pytest.param("iceberg", marks=WITHOUT_PYICEBERG)])
def test_a_history_table_of_any_layout_takes_windows_and_deletions_in_any_order(
    tmp_path_factory, monkeypatch, table_format, batches, options, data
):
    pytest.importorskip("deltalake")
    from airflow_provider_akinon.exports import destination_path
    from airflow_provider_akinon.exports.tables import format as tables

    monkeypatch.setattr(tables, "CHUNK", 2)  # several chunks a commit
    root = tmp_path_factory.mktemp("layout")
    table = destination_path(str(root / "orders"))
    order_of = data.draw(st.permutations(batches + data.draw(st.lists(st.sampled_from(batches), max_size=2))))
    replay(
        order_of,
        root,
        table,
        table_format,
        options,
        lambda k, m, versioned: record(k, m, versioned=versioned),
    )
    seen = [item for batch in batches for item in batch]
    assert shape(_read(table_format, str(table)), options) == model(seen, options)


def test_the_options_name_what_is_wrong():
    assert HistoryOptions.of(True) == HistoryOptions()
    assert HistoryOptions.of(False) is None
    given = HistoryOptions.of({"validity_columns": ("start", "end"), "open_end": "high"})
    assert (given.valid_from, given.valid_to, given.is_current, given.open_end) == (
        "start",
        "end",
        "is_current",
        HIGH_DATE,
    )
    assert HistoryOptions(open_end="9999-12-31").open_end == HIGH_DATE
    for bad, named in [
        ({"valid_until": "x"}, "valid_until"),
        ({"validity_columns": "start"}, "validity_columns"),
        ({"validity_columns": ("a", "a")}, "three different names"),
        ({"open_end": "someday"}, "open_end='someday'"),
        ({"version_on": "hash"}, "version_on='hash'"),
    ]:
        with pytest.raises(AkinonConfigError, match=named):
            HistoryOptions.of(bad)


@pytest.mark.parametrize("table_format", ["delta", pytest.param("iceberg", marks=WITHOUT_PYICEBERG)])
def test_a_table_laid_out_otherwise_is_refused_before_any_row_is_written(tmp_path, table_format):
    pytest.importorskip("deltalake")
    from airflow_provider_akinon.exports import destination_path
    from airflow_provider_akinon.exports.tables.merging import preflight, table_format_at
    from airflow_provider_akinon.resources import ORDERS

    table = destination_path(str(tmp_path / "orders"))
    layout = {"validity_columns": ("start", "end", "live"), "version_on": "content"}
    chosen = table_format_at(table, table_format, history=layout)
    chosen.merge(ORDERS, table, write_parts(tmp_path / "w0", ORDERS, [record(1, 0)]), at(10))
    before = _read(table_format, str(table))
    for other in (True, {**layout, "version_on": "version"}, {"validity_columns": ("start", "to", "live")}):
        with pytest.raises(
            (AkinonConfigError, DestinationError), match=r"laid out otherwise|folder of its own"
        ):
            preflight(table_format_at(table, table_format, history=other), ORDERS, table)
        with pytest.raises(AkinonConfigError, match="laid out otherwise"):
            table_format_at(table, table_format, history=other).merge(
                ORDERS, table, write_parts(tmp_path / f"x{id(other)}", ORDERS, [record(2, 0)]), at(10)
            )
    assert _read(table_format, str(table)) == before
    with pytest.raises(DestinationError, match="history table"):  # a current-state export into it
        preflight(table_format_at(table, table_format), ORDERS, table)


@pytest.mark.parametrize("table_format", ["delta", pytest.param("iceberg", marks=WITHOUT_PYICEBERG)])
def test_the_items_of_a_deleted_order_are_retired_with_it(tmp_path, table_format):
    """An items history table takes the order deletions (match='order'): every item of a deleted order
    is closed at its order's deletion; the items of other orders stay current; applied twice, the same."""
    pytest.importorskip("deltalake")
    from airflow_provider_akinon.exports import apply_deletions, destination_path
    from airflow_provider_akinon.exports.tables.merging import table_format_at
    from airflow_provider_akinon.resources import ORDER_ITEMS

    table = destination_path(str(tmp_path / "items"))
    items = [
        {"pk": pk, "order": parent, "status": "s", VERSION: stamp(at(minute))}
        for pk, parent, minute in [(10, 1, 0), (11, 1, 2), (12, 1, 30), (20, 2, 1)]
    ]
    history = table_format_at(table, table_format, history=True)
    history.merge(ORDER_ITEMS, table, write_parts(tmp_path / "w", ORDER_ITEMS, items), at(40))
    export = write_deletions(tmp_path / "d", [(1, 20)])
    for _ in range(2):
        apply_deletions(
            export, str(table), history=True, resource="order_items", match="order", table_format=table_format
        )
    rows = _read(table_format, str(table))
    live = {r["pk"] for r in rows if r["is_current"]}
    closed = {(r["pk"], r["valid_to"]) for r in rows if not r["is_current"] and not is_deletion(r, VERSION)}
    assert live == {12, 20}  # item 12 changed after its order's deletion: it stays, as a current table's row
    assert closed == {(10, at(20)), (11, at(20))}
    assert {r["pk"] for r in rows if is_deletion(r, VERSION)} == {10, 11, 12, -1}  # -1: the order's tombstone
    assert len(rows) == 4 + 3 + 1


@pytest.mark.parametrize("table_format", ["delta", pytest.param("iceberg", marks=WITHOUT_PYICEBERG)])
def test_items_merged_after_their_orders_deletion_are_retired_as_if_merged_before(tmp_path, table_format):
    """Before: items of a deleted order merged after the deletion was applied stayed current for ever (the
    deletion reached only the items the table held). Now the order's tombstone retires them: every order
    of two item windows and the deletion gives the same rows."""
    import itertools

    pytest.importorskip("deltalake")
    from airflow_provider_akinon.exports import apply_deletions, destination_path
    from airflow_provider_akinon.exports.tables.merging import table_format_at
    from airflow_provider_akinon.resources import ORDER_ITEMS

    def items(*rows: tuple[int, int, int]) -> list[dict]:
        return [{"pk": pk, "order": o, "status": "s", VERSION: stamp(at(m))} for pk, o, m in rows]

    windows = [items((10, 1, 0), (20, 2, 1)), items((11, 1, 2), (12, 1, 30), (10, 1, 5), (21, 2, 3))]
    export = write_deletions(tmp_path / "d", [(1, 20)])
    seen = set()
    for n, steps in enumerate(itertools.permutations(["w0", "w1", "deletion"])):
        table = destination_path(str(tmp_path / f"items{n}"))
        for step in steps:
            if step == "deletion":
                apply_deletions(
                    export, str(table), history=True, resource="order_items", match="order",
                    table_format=table_format,
                )  # fmt: skip
            else:
                history = table_format_at(table, table_format, history=True)
                parts = write_parts(tmp_path / f"{n}{step}", ORDER_ITEMS, windows[int(step[1])])
                history.merge(ORDER_ITEMS, table, parts, at(40))
        rows = _read(table_format, str(table))
        seen.add(
            frozenset((r["pk"], r["valid_from"], r["valid_to"], r["is_current"], r[DELETED]) for r in rows)
        )
        assert {r["pk"] for r in rows if r["is_current"]} == {12, 20, 21}, steps
    assert len(seen) == 1  # the same rows whichever came first


def test_a_deletion_with_no_version_is_kept_until_one_comes():
    """deletion_rows=False: a deletion that ends no version known keeps its row; the version that comes
    later is closed by it and the row leaves."""
    options = HistoryOptions(deletion_rows=False)
    table: dict[tuple, dict] = {}
    apply(table, [("d", 1, 10)], options)
    assert [r[DELETED] for r in table.values()] == [at(10)]
    apply(table, [("v", 1, 5)], options)
    assert [(r["valid_from"], r["valid_to"], r[DELETED]) for r in table.values()] == [(at(5), at(10), at(10))]


def test_a_high_open_end_is_kept_only_by_the_current_version():
    options = HistoryOptions(open_end="high")
    table: dict[tuple, dict] = {}
    apply(table, [("v", 1, 0), ("v", 2, 0), ("d", 2, 3)], options)
    apply(table, [("v", 1, 8)], options)
    ends = sorted((r["id"], r["valid_from"], r["valid_to"]) for r in table.values())
    assert ends == [(1, at(0), at(8)), (1, at(8), HIGH_DATE), (2, at(0), at(3)), (2, at(3), None)]
    assert all(r["valid_to"] == HIGH_DATE for r in table.values() if r["is_current"])


def test_two_first_loads_of_a_delta_history_table_at_once_keep_each_version_once(tmp_path, monkeypatch):
    """A first load into an empty Delta history table is written a chunk at a time and added in one commit
    (delta-rs's merge held the whole export: 1.1 GB for 1,000,000 orders). Two first loads at once: the one that commits second
    is refused (no commit retried at a later version) and decides again against the first's rows."""
    pytest.importorskip("deltalake")
    import deltalake

    from airflow_provider_akinon.exports import destination_path
    from airflow_provider_akinon.exports.tables.merging import table_format_at
    from airflow_provider_akinon.resources import ORDERS

    table = destination_path(str(tmp_path / "orders"))
    commit, calls = deltalake.DeltaTable.create_write_transaction, []

    def load(name: str, keys: list[int]) -> dict:
        history = table_format_at(table, "delta", history=True)
        return history.merge(
            ORDERS, table, write_parts(tmp_path / name, ORDERS, [record(k, 1) for k in keys]), at(9)
        )

    def the_other_load_commits_first(self, *args, **kwargs):
        calls.append(len(calls))
        if len(calls) == 1:  # the first load has written its files: the second commits before it
            assert load("b", [2, 3])["inserted"] == 2
        return commit(self, *args, **kwargs)

    monkeypatch.setattr(deltalake.DeltaTable, "create_write_transaction", the_other_load_commits_first)
    first = load("a", [1, 2])
    rows = _read("delta", str(table))
    assert sorted(r[KEY] for r in rows) == [1, 2, 3]  # the version of 2 once, not twice
    assert first["inserted"] == 1  # decided again: only 1 was new
    assert len(calls) == 2  # the first load's append (refused, then merged), the second's
