"""A list the package does not know (products, declared in this file only) and registered with one line
exports with typed Parquet columns and merges into a Delta table, against the DRF tenant's products."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

pytest.importorskip("rest_framework")
pytest.importorskip("deltalake")

from airflow_provider_akinon.exports import iter_export_records, merge_export
from airflow_provider_akinon.operators.akinon import FetchAkinonListOperator
from airflow_provider_akinon.resources import REGISTRY, Resource
from tests.drf_tenant.tenant import drf_tenant, instant

PRODUCTS = Resource(
    name="products",
    endpoint="products/",
    decimal_fields=("price",),
    timestamp_fields=("created_date", "modified_date"),
    string_fields=("sku", "name"),
)


@pytest.fixture(autouse=True)
def products(monkeypatch):
    monkeypatch.setitem(REGISTRY, PRODUCTS.name, PRODUCTS)  # the one line that registers it


def test_a_new_list_exports_typed_parquet_and_merges_into_delta(tmp_path, monkeypatch):
    import pyarrow.parquet as pq
    from deltalake import DeltaTable

    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    with drf_tenant(tmp_path / "tenant", orders=20, products=400, days=2, until=0) as tenant:
        monkeypatch.setenv("AIRFLOW_CONN_AKINON_DEFAULT", tenant.connection_json())
        table = str(tmp_path / "current" / "products")
        exports = []
        for start in (end - timedelta(days=1), end - timedelta(days=2)):  # the newer day first
            folder = tmp_path / "changes" / f"day={start:%Y-%m-%d}"
            exports.append(
                FetchAkinonListOperator(
                    task_id="products",
                    endpoint="products",  # the registered name
                    destination=str(folder),
                    date_field="modified_date",
                    file_format="parquet",
                    start=start,
                    end=start + timedelta(days=1),
                ).execute({})
            )
            merge_export(exports[-1], table)
        truth = {
            key: (sku, Decimal(str(price)).quantize(Decimal("0.01")), instant(modified))
            for key, sku, price, modified in tenant.rows("products", "id", "sku", "price", "modified_date")
        }

    schema = pq.read_schema(next((tmp_path / "changes").rglob("part-*.parquet")))
    assert str(schema.field("price").type).startswith("decimal")
    assert str(schema.field("modified_date").type).startswith("timestamp")
    exported = sorted(r["id"] for export in exports for r in iter_export_records(export["uri"]))
    assert exported == sorted(truth)  # every product once, over the two days
    rows = DeltaTable(table).to_pyarrow_table().to_pylist()
    merged = {r["id"]: (r["sku"], r["price"], r["modified_date"]) for r in rows if r["_deleted_at"] is None}
    assert merged == truth
