"""Typed Parquet against a tenant built from Django REST Framework's stock parts: a backfill, a day a
partition, queried by DuckDB in plain SQL, the figures equal to the tenant's database; and the tenant
upgraded mid-backfill (order items from a given key on carry a new field and a retyped one)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

pytest.importorskip("rest_framework")
pytest.importorskip("pyarrow")
pytest.importorskip("duckdb")

import duckdb

from airflow_provider_akinon.errors import SchemaContractError
from airflow_provider_akinon.exports import read_manifest
from airflow_provider_akinon.operators.akinon import (
    FetchDiscountItemsOperator,
    FetchOrderItemsOperator,
    FetchOrdersOperator,
)
from tests.drf_tenant.tenant import drf_tenant

DRIFT_FROM = 300  # order items from this pk on: a new field, a field retyped


@pytest.fixture
def tenant(tmp_path, monkeypatch):
    monkeypatch.setenv("DRF_TENANT_DRIFT_FROM", str(DRIFT_FROM))
    with drf_tenant(tmp_path / "tenant", orders=300, days=3, until=1) as running:
        monkeypatch.setenv("AIRFLOW_CONN_AKINON_DEFAULT", running.connection_json())
        yield running


def backfill(operator, root, **kwargs) -> list[str]:
    """Every day of the tenant's orders and a day or two before them (empty exports: they set no schema for
    the next day), a partition each (``partition_by="P1D"``): the days' manifests."""
    from datetime import UTC, datetime, timedelta

    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = (end - timedelta(days=5)).replace(hour=0)  # the first day or two hold no order: no baseline
    task = operator(
        task_id="backfill", destination=str(root), file_format="parquet", start=start, end=end,
        partition_by="P1D", **kwargs,
    )  # fmt: skip
    task.execute({})
    return [str(path.parent) for path in sorted(root.glob("date=*/_manifest.json"))]


def parsed(value) -> dict:
    """A JSON column as the database gives it (text in SQLite, a dict from PostgreSQL)."""
    return json.loads(value) if isinstance(value, str) else value


def by_name(glob) -> str:
    """Every day's parts, read by column name: a day exported before a field appeared lacks it."""
    return f"read_parquet('{glob}', union_by_name = true)"


def test_a_backfill_is_queried_in_plain_sql_and_equals_the_database(tenant, tmp_path):
    backfill(FetchOrdersOperator, tmp_path / "orders")
    backfill(FetchOrderItemsOperator, tmp_path / "items")
    backfill(FetchDiscountItemsOperator, tmp_path / "discounts")
    items = by_name(f"{tmp_path}/items/date=*/*.parquet")

    colour = duckdb.sql(
        f"SELECT product.attributes['erp_color'], sum(price) FROM {items} GROUP BY 1"
    ).fetchall()
    want: dict = {}
    for product, price in tenant.rows("order_items", "product", "price"):
        key = parsed(product).get("attributes", {}).get("erp_color")
        want[key] = want.get(key, 0) + Decimal(str(price))
    assert dict(colour) == want

    orders = by_name(f"{tmp_path}/orders/date=*/*.parquet")
    city = duckdb.sql(f"SELECT shipping_address.city.name, sum(amount) FROM {orders} GROUP BY 1").fetchall()
    want = {}
    for address, amount in tenant.rows("orders", "shipping_address", "amount"):
        key = parsed(address).get("city", {}).get("name")
        want[key] = want.get(key, 0) + Decimal(str(amount))
    assert dict(city) == want

    shares = duckdb.sql(
        f"""SELECT i.pk, sum(b.share.discount_share)
            FROM (SELECT unnest(benefitapplicant_set) AS share
                  FROM {by_name(f"{tmp_path}/discounts/date=*/*.parquet")}) AS b
            JOIN {items} AS i ON i.pk = b.share.order_item GROUP BY 1"""
    ).fetchall()
    want = {}
    for item, share in tenant.rows("benefit_applicants", "order_item_id", "discount_share"):
        want[item] = want.get(item, 0) + Decimal(str(share))
    assert dict(shares) == want
    assert want


def test_the_tenant_upgraded_mid_backfill_by_each_contract(tenant, tmp_path):
    days = backfill(FetchOrderItemsOperator, tmp_path / "evolve")
    rows = duckdb.sql(
        f"""SELECT pk, gift_note.text, shipping_company, shipping_company__int64
            FROM {by_name(f"{tmp_path}/evolve/date=*/*.parquet")}"""
    ).fetchall()
    assert {pk >= DRIFT_FROM for pk, *_ in rows} == {True, False}  # both sides of the upgrade exported
    for pk, note, name, number in rows:
        want = ("Mutlu yıllar", None, 3) if pk >= DRIFT_FROM else (None, "yurtici", None)
        assert (note, name, number) == want, pk
    changes = [change for day in days for change in read_manifest(day)["schema_changes"]]
    assert {"field": "shipping_company", "change": "variant", "from": "string",
            "to": "shipping_company__int64: int64"} in changes  # fmt: skip

    with pytest.raises(SchemaContractError, match=r"'shipping_company' changed type from string to int64"):
        backfill(FetchOrderItemsOperator, tmp_path / "freeze", schema_contract="freeze")
    frozen = sorted((tmp_path / "freeze").glob("date=*/_manifest.json"))
    assert frozen  # the days before the upgrade's first record published; that day and later not
    for manifest in frozen:
        if read_manifest(str(manifest.parent))["records"]:
            pks = duckdb.sql(f"SELECT max(pk) FROM '{manifest.parent}/*.parquet'").fetchone()[0]
            assert pks < DRIFT_FROM

    backfill(FetchOrderItemsOperator, tmp_path / "discard", schema_contract={"data_type": "discard_value"})
    for pk, name, errors in duckdb.sql(
        f"SELECT pk, shipping_company, _errors FROM {by_name(f'{tmp_path}/discard/date=*/*.parquet')}"
    ).fetchall():
        if pk >= DRIFT_FROM:
            assert (name, errors) == (
                None,
                ["shipping_company: int64 value dropped (shipping_company is string)"],
            )
        else:
            assert (name, errors) == ("yurtici", None)
