"""Any Akinon list through FetchAkinonListOperator: the order-adjacent lists Akinon documents."""

from __future__ import annotations

import pytest

from airflow_provider_akinon.errors import AkinonConfigError
from airflow_provider_akinon.exports import iter_export_records, read_manifest
from airflow_provider_akinon.operators.akinon import FetchAkinonListOperator
from airflow_provider_akinon.resources import REGISTRY

DAY = {"start": "2026-01-02T00:00:00Z", "end": "2026-01-03T00:00:00Z"}


@pytest.mark.parametrize("name", ["cancellation_requests", "oms_orders", "oms_packages"])
def test_a_registered_list_exports_its_window_exactly(akinon_default, tmp_path, name):
    server = akinon_default
    server.faults.mutate_every, server.faults.mutations = 3, 10
    summary = FetchAkinonListOperator(
        task_id="l", endpoint=name, destination=str(tmp_path), page_size=20, **DAY
    ).execute({})
    got = [record["id"] for record in iter_export_records(summary["uri"])]
    assert sorted(got) == server.data.expected(name, "created_date", DAY["start"], DAY["end"])
    assert len(got) == len(set(got)) > 0
    assert read_manifest(summary["uri"])["resource"] == name


def test_oms_orders_carry_their_items_embedded(akinon_default, tmp_path):
    summary = FetchAkinonListOperator(
        task_id="l", endpoint="oms_orders", destination=str(tmp_path), **DAY
    ).execute({})
    order = next(iter_export_records(summary["uri"]))
    assert [item["id"] for item in order["orderitem_set"]] == akinon_default.data.item_pks(order["id"])
    assert order["state"]["enum_value"]


def test_a_list_described_by_its_arguments(akinon_default, tmp_path):
    summary = FetchAkinonListOperator(
        task_id="l", endpoint="cancellation_requests/", primary_key="id", destination=str(tmp_path), **DAY
    ).execute({})
    expected = akinon_default.data.expected("cancellation_requests", "created_date", DAY["start"], DAY["end"])
    assert sorted(r["id"] for r in iter_export_records(summary["uri"])) == expected


def test_deleted_items_answer_a_bare_list_and_export_exactly(akinon_default, tmp_path):
    server = akinon_default
    gone = server.data.expected("orders", "created_date", DAY["start"], DAY["end"])[:5]
    for order_id in gone:
        server.data.delete_order(order_id, at=server.data.start + 86400 * 1.5)
    summary = FetchAkinonListOperator(
        task_id="d", endpoint="deleted_items", date_field="deleted_date", destination=str(tmp_path), **DAY
    ).execute({})
    rows = list(iter_export_records(summary["uri"]))
    assert sorted(row["object_id"] for row in rows) == gone
    assert {row["content_type_model"] for row in rows} == {"order"}


def test_without_an_endpoint_the_operator_says_what_it_needs(akinon_default, tmp_path):
    with pytest.raises(AkinonConfigError, match="needs endpoint="):
        FetchAkinonListOperator(task_id="l", destination=str(tmp_path), **DAY)


def test_the_order_adjacent_lists_are_registered():
    assert {"cancellation_requests", "oms_orders", "oms_packages", "deleted_items"} <= set(REGISTRY)
    assert REGISTRY["deleted_items"].bare_list
