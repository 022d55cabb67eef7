"""Parquet pages decoded and typed by Arrow give exactly what the record-by-record conversion gives.

Hypothesis draws pages of orders whose typed fields come as a tenant may send them: decimal strings or
JSON numbers, timestamps with ``Z``, an offset, or none (naive, in the connection's zone), NULLs, numbers
as strings, a value that does not fit. Arrow's path takes the page or declines it; where it takes it, the
table equals the record-by-record one cell for cell; where neither takes it, the error names the value.
"""

from __future__ import annotations

import io
from datetime import UTC, timedelta, timezone

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("pyarrow")

from airflow_provider_akinon.errors import ExportConsistencyError
from airflow_provider_akinon.exports.formats.parquet import ParquetEncoder
from airflow_provider_akinon.hooks.paging.records import Records
from airflow_provider_akinon.resources import ORDERS

ZONE = timezone(timedelta(hours=3))

money = st.one_of(
    st.none(),
    st.decimals(min_value=-(10**9), max_value=10**9, places=2).map(str),  # Akinon's decimal strings
    st.integers(-1000, 1000),  # a number, not a string
    st.just(""),
    st.just("12.34567"),  # more places than the column keeps
)
stamps = st.one_of(
    st.none(),
    st.datetimes(timezones=st.just(UTC)).map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.%fZ")),
    st.datetimes(timezones=st.just(ZONE)).map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat()),  # naive: in the connection's zone
)
strings = st.one_of(st.none(), st.text(max_size=8), st.integers(0, 999))
orders = st.fixed_dictionaries(
    {
        "id": st.integers(1, 10**12),
        "amount": money,
        "shipping_amount": money,
        "created_date": stamps,
        "modified_date": stamps,
        "status": strings,
        "number": strings,
    },
    optional={
        "extra_field": st.dictionaries(st.text(max_size=5), st.integers(-(2**63), 2**63 - 1), max_size=3)
    },
)


def encoder() -> ParquetEncoder:
    return ParquetEncoder(ORDERS, io.BytesIO(), ZONE)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(page=st.lists(orders, min_size=1, max_size=20))
def test_arrow_types_a_page_exactly_as_the_record_by_record_conversion_or_declines_it(page):
    records = Records(raw=[orjson.dumps(record) for record in page])
    try:
        expected = encoder()._by_record(records)
    except ExportConsistencyError:  # a value that fits no column: neither path may take the page
        expected = None
    by_arrow = encoder()._by_arrow(records.raw)
    if expected is None:
        assert by_arrow is None
    elif by_arrow is not None:
        assert by_arrow.equals(expected), (by_arrow.to_pylist(), expected.to_pylist())


def test_a_page_of_akinon_s_usual_shapes_is_typed_by_arrow():
    page = [
        {"id": 1, "amount": "599.99", "created_date": "2021-05-11T06:42:55.684412Z", "status": "400"},
        {"id": 2, "amount": None, "created_date": "2021-05-11T09:42:55+03:00", "status": None},
    ]
    records = Records(raw=[orjson.dumps(record) for record in page])
    table = encoder()._by_arrow(records.raw)
    assert table is not None  # the fast path took it
    assert table.equals(encoder()._by_record(records))
    assert table.column("_record").to_pylist() == [orjson.dumps(record).decode() for record in page]
