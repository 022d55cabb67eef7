"""One export's typed schema, under drawn records: nothing lost, page boundaries change nothing, and each
contract mode does what it says when a field appears or changes type."""

from __future__ import annotations

import json
from datetime import UTC
from decimal import Decimal

import pytest

pytest.importorskip("pyarrow", reason="typed schemas need the [parquet] extra")

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_akinon.errors import SchemaContractError
from airflow_provider_akinon.resources import Resource
from airflow_provider_akinon.schema.contract import MODES, Contract
from airflow_provider_akinon.schema.evolving import Evolving
from airflow_provider_akinon.schema.page import MONEY

LIST = Resource(
    name="things", endpoint="things/", decimal_fields=("amount",), timestamp_fields=("created_date",)
)
NAMES = ("a", "b", "c", "d")
WORDS = st.text(alphabet="xyzçğış ", max_size=6)
SCALARS = {
    "int": st.integers(-(2**40), 2**40),
    "float": st.floats(allow_nan=False, allow_infinity=False, width=32).filter(lambda f: f != int(f)),
    "str": WORDS,
    "bool": st.booleans(),
}


@st.composite
def kinds(draw, depth: int = 0):
    """A field's kind: a scalar, a dict of fields, a list of scalars or of dicts, or a dict of data (a map)."""
    options = ["int", "float", "str", "bool"] + (["dict", "list", "records", "map"] if depth < 2 else [])
    kind = draw(st.sampled_from(options))
    if kind == "dict" or kind == "records":
        return (kind, {n: draw(kinds(depth + 1)) for n in draw(st.sets(st.sampled_from(NAMES), min_size=1))})
    if kind in ("list", "map"):
        return (kind, draw(st.sampled_from(["int", "str"])))
    return (kind, None)


@st.composite
def values(draw, kind):
    name, inner = kind
    if draw(st.integers(0, 5)) == 0:
        return None
    if name in SCALARS:
        return draw(SCALARS[name])
    if name == "dict":
        return {n: draw(values(k)) for n, k in inner.items() if draw(st.booleans())}
    if name == "records":
        return draw(st.lists(values(("dict", inner)).filter(lambda v: v is not None), max_size=3))
    if name == "list":
        return draw(st.lists(SCALARS[inner], max_size=3))
    return draw(st.dictionaries(st.sampled_from(["k1", "k2", "k3", "erp_color"]), SCALARS[inner], max_size=3))


@st.composite
def exports(draw, mixed: bool = False):
    """Records of one list and two page splits: each field of one kind throughout (``mixed``: of one of two
    kinds, record by record), absent or null at times."""
    names = st.sampled_from(["p", "q", "r", "attributes"])
    fields = draw(
        st.dictionaries(names, st.lists(kinds(), min_size=1, max_size=2 if mixed else 1), min_size=1)
    )
    fields = {n: ([("map", "str")] if n == "attributes" else k) for n, k in fields.items()}
    count = draw(st.integers(1, 12))
    records = []
    for n in range(count):
        record = {"id": n + 1, "amount": draw(st.sampled_from(["1.50", "0.0001", None, 3]))}
        record.update(
            {f: draw(values(draw(st.sampled_from(k)))) for f, k in fields.items() if draw(st.booleans())}
        )
        records.append(record)
    cuts = [sorted(draw(st.sets(st.integers(1, count), max_size=3)) | {count}) for _ in range(2)]
    return records, cuts


def shaped(
    records: list[dict], cuts: list[int], contract: Contract | None = None, baseline=None
) -> tuple[Evolving, list[dict]]:
    evolving = Evolving(LIST, UTC, contract or Contract(), baseline)
    rows, start = [], 0
    pages = []
    for end in cuts:
        pages.append(evolving.shape([json.dumps(r).encode() for r in records[start:end]]))
        start = end
    for table, _ in pages:  # read under the final schema, as a reader of every part does
        from airflow_provider_akinon.schema.evolving import conform

        table = conform(table, evolving.schema)
        table.validate(full=True)  # arrays Arrow would write as they are
        rows += table.to_pylist()
    return evolving, rows


def expected(value, kind):
    """What ``value`` (as JSON gave it) reads as from a column of Arrow type ``kind``."""
    if value is None or pa.types.is_null(kind):
        return None
    if pa.types.is_struct(kind):
        return {f.name: expected(value.get(f.name), f.type) for f in kind}
    if pa.types.is_map(kind):
        return {k: expected(v, kind.item_type) for k, v in value.items() if v is not None}
    if pa.types.is_list(kind):
        return [expected(v, kind.value_type) for v in value]
    if pa.types.is_floating(kind):
        return float(value)
    if pa.types.is_decimal(kind):
        return Decimal(str(value))
    return value


def read(value, kind):
    """A value as read from Arrow, maps as dicts (entry order is the page's field order)."""
    if value is None:
        return None
    if pa.types.is_struct(kind):
        return {f.name: read(value.get(f.name), f.type) for f in kind}
    if pa.types.is_map(kind):
        return {k: read(v, kind.item_type) for k, v in value}
    if pa.types.is_list(kind):
        return [read(v, kind.value_type) for v in value]
    return value


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(exports())
def test_every_value_lands_typed_and_page_boundaries_change_nothing(drawn):
    records, (cuts, other_cuts) = drawn
    evolving, rows = shaped(records, cuts)
    again, other_rows = shaped(records, other_cuts)
    assert evolving.schema == again.schema  # the schema is the records', not the pages'
    assert rows == other_rows
    assert len(rows) == len(records)
    for record, row in zip(records, rows, strict=True):
        for field in evolving.schema:
            got = read(row[field.name], field.type)
            want = expected(record.get(field.name), field.type)
            if isinstance(want, float):
                assert got == pytest.approx(want, rel=1e-6)
            else:
                assert got == want, (field, record)
        assert set(record) <= set(evolving.schema.names)  # no field left out
    assert not evolving.changes or all(c.kind in ("added", "widened") for c in evolving.changes)


def lands(value, row: dict, schema) -> bool:
    """Whether ``value`` reads back from one of the columns of its field: its own, or a variant."""
    for field in schema:
        try:
            if read(row[field.name], field.type) == expected(value, field.type):
                return True
        except (AttributeError, TypeError, ValueError, ArithmeticError):
            continue
    return False


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(exports(mixed=True), st.sampled_from(["evolve", "discard_value"]))
def test_a_field_of_two_types_loses_nothing_whatever_the_pages(drawn, mode):
    """``evolve``: each value in its column or in a variant named for its type; ``discard_value``: there, or
    dropped with an ``_errors`` line naming the field. Either way the same, however the pages are cut."""
    records, (cuts, other_cuts) = drawn
    evolving, rows = shaped(records, cuts, Contract.of(mode))
    again, other_rows = shaped(records, other_cuts, Contract.of(mode))
    assert evolving.schema == again.schema
    assert rows == other_rows
    for record, row in zip(records, rows, strict=True):
        for name, value in record.items():
            if value is None or value == {} or value == []:
                continue  # an empty dict or list reads back as empty or null, by the column's type
            columns = [f for f in evolving.schema if f.name == name or f.name.startswith(f"{name}__")]
            if lands(value, row, columns):
                continue
            assert mode == "discard_value", (name, value, row)
            assert any(line.startswith(f"{name}: ") for line in row["_errors"] or []), (name, value, row)
    if mode == "evolve":
        assert "_errors" not in evolving.schema.names


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(exports(mixed=True), st.sampled_from(MODES), st.sampled_from(MODES))
def test_every_contract_gives_one_export_however_the_pages_are_cut(drawn, columns, data_type):
    """Against a baseline, any contract lands the same rows, schema and discards (or refuses) for any cut."""
    records, splits = drawn
    contract = Contract(columns=columns, data_type=data_type)
    outcomes = []
    for cuts in splits:
        try:
            evolving, rows = shaped(records, cuts, contract, BEFORE)
        except SchemaContractError:
            outcomes.append("refused")
            continue
        outcomes.append((evolving.schema, rows, evolving.discarded, sorted(evolving.discarded_keys)))
        assert len(rows) + evolving.discarded == len(records)
    assert outcomes[0] == outcomes[1]


def page(*records) -> list[bytes]:
    return [json.dumps(r).encode() for r in records]


BEFORE = pa.schema([("id", pa.int64()), ("x", pa.int64())])  # the previous export's schema


def test_a_new_field_is_a_nullable_column_and_listed():
    evolving = Evolving(LIST, UTC, Contract(), baseline=BEFORE)
    evolving.shape(page({"id": 1, "x": 1}))
    table, _ = evolving.shape(page({"id": 2, "x": 2, "colour": {"name": "red"}}))
    assert table.column("colour").to_pylist() == [{"name": "red"}]
    assert [c.as_dict() for c in evolving.changes] == [
        {"field": "colour", "change": "added", "from": None, "to": "struct<name: string>"}
    ]


@pytest.mark.parametrize(
    ("contract", "column", "errors"),
    [
        ("evolve", {"x": [1, None], "x__string": [None, "two"]}, None),
        ("discard_value", {"x": [1, None]}, [None, ["x: string value dropped (x is int64)"]]),
    ],
)
def test_a_changed_type_by_the_contract(contract, column, errors):
    evolving = Evolving(LIST, UTC, Contract.of(contract))
    first, _ = evolving.shape(page({"id": 1, "x": 1}))
    second, _ = evolving.shape(page({"id": 2, "x": "two"}))
    from airflow_provider_akinon.schema.evolving import conform

    both = pa.concat_tables([conform(first, evolving.schema), conform(second, evolving.schema)])
    for name, want in column.items():
        assert both.column(name).to_pylist() == want
    if errors is None:
        assert "_errors" not in both.column_names
    else:
        assert both.column("_errors").to_pylist() == errors
    assert evolving.schema.field("x").type == pa.int64()


def test_a_changed_type_within_one_page_is_found_and_settled():
    evolving = Evolving(LIST, UTC, Contract())
    table, rows = evolving.shape(page({"id": 1, "x": 1}, {"id": 2, "x": "two"}, {"id": 3, "x": 3}))
    assert sorted(
        zip(
            rows.to_pylist(),
            table.column("x").to_pylist(),
            table.column("x__string").to_pylist(),
            strict=True,
        )
    ) == [
        (0, 1, None),
        (1, None, "two"),
        (2, 3, None),
    ]


def test_freeze_refuses_naming_the_field_and_both_types():
    evolving = Evolving(LIST, UTC, Contract.of("freeze"), baseline=BEFORE)
    evolving.shape(page({"id": 1, "x": 1}))
    with pytest.raises(SchemaContractError, match=r"field 'x' changed type from int64 to string"):
        evolving.shape(page({"id": 2, "x": "two"}))
    with pytest.raises(SchemaContractError, match=r"a new field 'y' \(bool\)"):
        evolving.shape(page({"id": 3, "y": True}))


def test_discard_row_leaves_the_record_out_and_counts_it():
    evolving = Evolving(
        LIST, UTC, Contract.of({"columns": "discard_row", "data_type": "discard_row"}), BEFORE
    )
    evolving.shape(page({"id": 1, "x": 1}))
    table, rows = evolving.shape(page({"id": 2, "x": "two"}, {"id": 3, "x": 3}, {"id": 4, "y": 1}))
    assert table.column("id").to_pylist() == [3]
    assert rows.to_pylist() == [1]
    assert evolving.describe()["discarded_rows"] == 2
    assert sorted(evolving.describe()["discarded_keys"]) == [2, 4]


def test_a_declared_money_field_that_does_not_fit_follows_the_contract():
    evolving = Evolving(LIST, UTC, Contract())
    table, _ = evolving.shape(page({"id": 1, "amount": "1.25"}, {"id": 2, "amount": "1,25"}))
    assert table.column("amount").to_pylist() == [Decimal("1.25"), None]
    assert table.column("amount__string").to_pylist() == [None, "1,25"]
    with pytest.raises(SchemaContractError, match=r"'1,25' does not fit decimal128\(18, 4\)"):
        Evolving(LIST, UTC, Contract.of("freeze")).shape(page({"id": 2, "amount": "1,25"}))


def test_a_dict_of_500_keys_is_one_map_column_not_500():
    evolving = Evolving(LIST, UTC, Contract())
    records = [{"id": n, "extra": {f"key_{k}": str(k) for k in range(n * 5, n * 5 + 5)}} for n in range(100)]
    table, _ = evolving.shape(page(*records))
    assert evolving.schema.field("extra").type == pa.map_(pa.string(), pa.string())
    assert len(evolving.schema) == len(LIST.decimal_fields) + len(LIST.timestamp_fields) + 2  # id, extra
    assert dict(table.column("extra")[99].as_py()) == {f"key_{k}": str(k) for k in range(495, 500)}


def test_timestamps_are_instants_only_where_declared():
    evolving = Evolving(LIST, UTC, Contract())
    table, _ = evolving.shape(
        page({"id": 1, "created_date": "2026-01-01T03:00:00+03:00", "note": "2026-01-01T00:00:00"})
    )
    assert str(table.column("created_date")[0].as_py()) == "2026-01-01 00:00:00+00:00"
    assert table.column("note").to_pylist() == [
        "2026-01-01T00:00:00"
    ]  # a string that looks like one stays text


SHARES = Resource(
    name="shares", endpoint="shares/", nested_decimal_fields=("benefitapplicant_set[].discount_share",)
)


def test_money_inside_records_is_decimal_and_a_misfit_follows_the_contract():
    evolving = Evolving(SHARES, UTC, Contract())
    table, _ = evolving.shape(
        page(
            {"id": 1, "benefitapplicant_set": [{"discount_share": "2.50"}, {"discount_share": "0.0001"}]},
            {"id": 2, "benefitapplicant_set": []},
            {"id": 3, "benefitapplicant_set": [{"discount_share": "1,5"}]},
        )
    )
    assert evolving.schema.field("benefitapplicant_set").type == pa.list_(
        pa.struct([("discount_share", MONEY)])
    )
    assert table.column("benefitapplicant_set").to_pylist() == [
        [{"discount_share": Decimal("2.5")}, {"discount_share": Decimal("0.0001")}],
        [],
        None,
    ]
    assert table.column("benefitapplicant_set__list").to_pylist() == [None, None, [{"discount_share": "1,5"}]]
    with pytest.raises(SchemaContractError, match=r"benefitapplicant_set\[\].discount_share"):
        Evolving(SHARES, UTC, Contract.of("freeze")).shape(
            page({"id": 3, "benefitapplicant_set": [{"discount_share": "1,5"}]})
        )
