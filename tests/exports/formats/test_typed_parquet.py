"""Typed Parquet exports against the fake Akinon (real HTTP): queried by DuckDB in plain SQL, and the tenant's
schema moving mid-export (a field added, another's type changed) under each contract."""

from __future__ import annotations

from decimal import Decimal

import pytest

pytest.importorskip("pyarrow", reason="parquet needs the [parquet] extra")
pytest.importorskip("duckdb")

import duckdb

from airflow_provider_akinon.errors import SchemaContractError
from airflow_provider_akinon.exports import read_manifest
from airflow_provider_akinon.operators.akinon import (
    FetchDiscountItemsOperator,
    FetchOrderItemsOperator,
    FetchOrdersOperator,
)

WINDOW = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-04T00:00:00Z"}


def export(operator, destination, **kwargs):
    task = operator(
        task_id="export", destination=str(destination), file_format="parquet", **{**WINDOW, **kwargs}
    )
    return task.execute({})


def files(folder) -> str:
    return f"{folder}/*.parquet"


def test_duckdb_answers_in_plain_sql_what_the_tenant_holds(akinon_default, tmp_path):
    data = akinon_default.data
    export(FetchOrdersOperator, tmp_path / "orders", page_size=50)
    export(FetchOrderItemsOperator, tmp_path / "items", page_size=50)
    export(FetchDiscountItemsOperator, tmp_path / "discounts", page_size=50)
    items = [item for order in data.visible() for item in data.items(order)]
    orders = [data.order(order) for order in data.visible()]

    by_colour = duckdb.sql(
        f"SELECT product.attributes['erp_color'] AS colour, sum(price) FROM '{files(tmp_path / 'items')}' GROUP BY 1"
    ).fetchall()
    want: dict = {}
    for item in items:
        colour = item["product"]["attributes"]["erp_color"]
        want[colour] = want.get(colour, 0) + Decimal(item["price"])
    assert dict(by_colour) == want

    by_city = duckdb.sql(
        f"SELECT shipping_address.city.name, sum(amount) FROM '{files(tmp_path / 'orders')}' GROUP BY 1"
    ).fetchall()
    want = {}
    for order in orders:
        city = order["shipping_address"]["city"]["name"]
        want[city] = want.get(city, 0) + Decimal(order["amount"])
    assert dict(by_city) == want

    shares = duckdb.sql(
        f"""SELECT i.pk, sum(b.share.discount_share)
            FROM (SELECT unnest(benefitapplicant_set) AS share FROM '{files(tmp_path / "discounts")}') AS b
            JOIN '{files(tmp_path / "items")}' AS i ON i.pk = b.share.order_item GROUP BY 1"""
    ).fetchall()
    want = {}
    for order in data.visible():
        for discount in data.discounts(order):
            for share in discount["benefitapplicant_set"]:
                want[share["order_item"]] = want.get(share["order_item"], 0) + Decimal(
                    share["discount_share"]
                )
    assert dict(shares) == want
    assert len(want) > 100


def drifted(data, first_order: int) -> None:
    """From ``first_order`` on, order items carry a new field and ``status_display`` turns into a number."""

    def change(item: dict) -> None:
        item["gift_note"] = {"text": "Mutlu yıllar", "from": "Ayşe"}
        item["status_display"] = int(item["status_display"])

    data.drift("order_items", first_order, change)


def test_evolve_adds_the_new_column_and_keeps_the_changed_type_in_a_variant(akinon_default, tmp_path):
    data = akinon_default.data
    middle = data.visible()[len(data.visible()) // 2]
    drifted(data, middle)
    summary = export(FetchOrderItemsOperator, tmp_path, page_size=20)
    manifest = read_manifest(summary["uri"])
    rows = duckdb.sql(
        f"""SELECT "order", gift_note.text, status_display, status_display__int64 FROM '{files(tmp_path)}'"""
    ).fetchall()
    assert len(rows) == manifest["records"] > 0
    for order, note, text, number in rows:
        if order >= middle:
            assert (note, text, number) == ("Mutlu yıllar", None, int(data.status[order - 1]))
        else:
            assert (note, text, number) == (None, data.status[order - 1], None)
    import pyarrow.parquet as pq

    schemas = {str(pq.read_schema(tmp_path / part["name"])) for part in manifest["files"]}
    assert len(manifest["files"]) > 1
    assert len(schemas) == 1  # every part has the export's final schema: no union_by_name needed
    variant = [c for c in manifest["schema_changes"] if c["change"] == "variant"]
    assert variant == [
        {
            "field": "status_display",
            "change": "variant",
            "from": "string",
            "to": "status_display__int64: int64",
        }
    ]
    names = {field["name"]: field["type"] for field in manifest["schema"]}
    assert names["gift_note"] == "struct<from: string, text: string>"
    assert names["product"].startswith("struct<")
    assert "map<string, string>" in names["product"]  # attributes: one map, not a column per key


def test_freeze_refuses_before_publishing_naming_the_field_and_both_types(akinon_default, tmp_path):
    data = akinon_default.data
    drifted(data, data.visible()[len(data.visible()) // 2])
    with pytest.raises(
        SchemaContractError, match=r"field 'status_display' changed type from string to int64"
    ):
        export(FetchOrderItemsOperator, tmp_path, page_size=20, schema_contract="freeze")
    assert not (tmp_path / "_manifest.json").exists()
    assert not list(tmp_path.glob("*.parquet"))


def test_discard_value_lands_every_row_with_errors_saying_what_was_dropped(akinon_default, tmp_path):
    data = akinon_default.data
    middle = data.visible()[len(data.visible()) // 2]
    drifted(data, middle)
    summary = export(
        FetchOrderItemsOperator, tmp_path, page_size=20, schema_contract={"data_type": "discard_value"}
    )
    rows = duckdb.sql(f"""SELECT "order", status_display, _errors FROM '{files(tmp_path)}'""").fetchall()
    assert len(rows) == summary["records"]
    for order, text, errors in rows:
        if order >= middle:
            assert (text, errors) == (
                None,
                ["status_display: int64 value dropped (status_display is string)"],
            )
        else:
            assert (text, errors) == (data.status[order - 1], None)
