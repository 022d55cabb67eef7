"""Children of orders: batched where ``order__in`` works, one order per request where not; counts checked."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import orjson
import pytest

from airflow_provider_akinon.errors import AkinonApiError, ExportConsistencyError
from airflow_provider_akinon.exports import iter_export_records, read_manifest
from airflow_provider_akinon.exports.plan import Plan
from airflow_provider_akinon.exports.progress import Progress
from airflow_provider_akinon.exports.settle import STRICT
from airflow_provider_akinon.exports.sources import ParentIds
from airflow_provider_akinon.exports.walks.children import fetch_batch
from airflow_provider_akinon.exports.walks.context import WalkJob
from airflow_provider_akinon.hooks.http.core import RequestStats
from airflow_provider_akinon.hooks.paging.styles import PageNumberPaginator
from airflow_provider_akinon.hooks.paging.walker import PageStream
from airflow_provider_akinon.operators.akinon import FetchDiscountItemsOperator, FetchOrderItemsOperator
from airflow_provider_akinon.resources import ORDER_ITEMS
from airflow_provider_akinon.testing.variants import FilterError

ORDERS = list(range(1, 121))


def export(operator, destination, **kwargs):
    return operator(task_id="c", destination=str(destination), order_ids=ORDERS, **kwargs).execute({})


@pytest.mark.parametrize("operator", [FetchOrderItemsOperator, FetchDiscountItemsOperator])
@pytest.mark.parametrize("batch", [True, False])
def test_children_are_exact_and_in_order_batched_or_not(akinon_default, tmp_path, operator, batch):
    server = akinon_default
    if not batch:
        server.api.ignore_params = frozenset({"order__in"})
    server.faults.error_every, server.faults.revoke_every = 9, 13
    summary = export(operator, tmp_path, page_size=12)
    pks = server.data.item_pks if operator is FetchOrderItemsOperator else server.data.discount_pks
    assert [r["pk"] for r in iter_export_records(summary["uri"])] == [pk for o in ORDERS for pk in pks(o)]
    manifest = read_manifest(summary["uri"])
    assert manifest["records"] == manifest["count"]
    data_requests = [p for p in server.log.paths if "detailed_integration" in p]
    if batch:
        assert manifest["paging"] == "3 orders per request (order__in)"
        assert len(data_requests) < len(ORDERS)
    else:
        assert manifest["paging"] == "one request per order"
        assert len(data_requests) >= len(ORDERS)


class StubHook:
    """Pages as an API with a wrong count or foreign records would answer them."""

    def __init__(self, answers):
        self.answers = answers
        self.stats = RequestStats()

    def pages(self, endpoint, params, *, page_size=None, paginator=None, decoder=None):
        answers = iter(self.answers)
        return PageStream(
            lambda e, q: decoder(orjson.dumps(next(answers))),
            endpoint,
            params,
            PageNumberPaginator(),
            page_size,
        )


def job_for(pages) -> WalkJob:
    hook = StubHook(pages)
    plan = Plan(ORDER_ITEMS, ParentIds((5,)), {}, "children", None, STRICT, 10, 2, True)
    return WalkJob(plan, hook, sink=None, progress=Progress(hook.stats, "t"))


def test_the_api_count_is_compared_with_the_records_found():
    pages = [{"count": 3, "next": None, "results": [{"pk": 1, "order": 5}, {"pk": 2, "order": 5}]}]
    with pytest.raises(ExportConsistencyError, match="its count disagrees with the records its pages hold"):
        fetch_batch(job_for(pages), [5], batched=False)


def test_duplicates_across_pages_are_dropped_before_counting():
    pages = [
        {"count": 2, "next": "x", "results": [{"pk": 1, "order": 5}, {"pk": 2, "order": 5}]},
        {"count": 2, "next": None, "results": [{"pk": 2, "order": 5}]},
    ]
    records, count, *_ = fetch_batch(job_for(pages), [5], batched=False)
    assert ([r["pk"] for r in records.parsed], count) == ([1, 2], 2)


def test_records_of_orders_not_asked_for_are_refused():
    pages = [{"count": 2, "next": None, "results": [{"pk": 1, "order": 5}, {"pk": 9, "order": 6}]}]
    with pytest.raises(ExportConsistencyError, match="record of order 6 that was not asked for"):
        fetch_batch(job_for(pages), [5, 7], batched=True)


DAY = {"start": "2026-01-02T00:00:00Z", "end": "2026-01-03T00:00:00Z"}


@pytest.mark.parametrize("listable", [True, False])
def test_window_on_auto_cuts_the_items_own_dates_where_the_endpoint_allows_it(
    akinon_default, tmp_path, listable
):
    server = akinon_default
    server.api.list_children = listable
    summary = FetchOrderItemsOperator(
        task_id="i",
        destination=str(tmp_path),
        date_field="modified_date",
        window_on="auto",
        page_size=10,
        **DAY,
    ).execute({})
    expected = server.data.expected("order_items", "modified_date", DAY["start"], DAY["end"])
    assert sorted(r["pk"] for r in iter_export_records(summary["uri"])) == sorted(expected)
    manifest = read_manifest(summary["uri"])
    item_requests = [p for p in server.log.paths if "order_item/" in p]
    if listable:  # one window list of items, walked by its own keys; no request names an order
        assert manifest["paging"] == "keyset"
        assert manifest["probe"]["endpoint"] == "order_item/detailed_integration/"
        assert not any("order=" in p or "order__in=" in p for p in item_requests)
    else:  # Akinon's documented endpoint: the children of the window's orders
        assert manifest["paging"].endswith("(order__in)")
        assert any("order__in=" in p for p in item_requests)


def test_window_on_records_needs_a_listable_endpoint_and_says_what_it_answered(akinon_default, tmp_path):
    with pytest.raises(AkinonApiError, match=r"order_item/detailed_integration/ -> 400: .*order"):
        FetchOrderItemsOperator(
            task_id="i", destination=str(tmp_path), date_field="modified_date", window_on="records", **DAY
        ).execute({})
    assert not (tmp_path / "_manifest.json").exists()


@pytest.mark.parametrize("batch", [True, False])
def test_orders_deleted_since_they_were_listed_have_no_children_and_are_counted(
    akinon_default, tmp_path, batch
):
    """A Django tenant refuses the ``order`` filter's value once the order is gone (``ModelChoiceFilter``)."""
    server = akinon_default
    server.api.refuse_unknown_orders = True
    if not batch:
        server.api.ignore_params = frozenset({"order__in"})
    gone = [1, 8, 60]  # 1: the question "order__in honoured?" on orders 1 and 2 is refused, asked on 3, 4
    for order in gone:
        server.data.delete_order(order, at=0)
    summary = export(FetchOrderItemsOperator, tmp_path, page_size=12)
    kept = [o for o in ORDERS if o not in gone]
    assert [r["pk"] for r in iter_export_records(summary["uri"])] == [
        pk for o in kept for pk in server.data.item_pks(o)
    ]
    manifest = read_manifest(summary["uri"])
    assert manifest["orders_gone"] == len(gone)
    assert manifest["paging"] == ("3 orders per request (order__in)" if batch else "one request per order")
    queries = [parse_qs(urlsplit(p).query) for p in server.log.paths if "detailed_integration" in p]
    alone = [q for q in queries if q.get("order") == ["8"] or q.get("order__in") == ["8"]]
    assert alone, "the fake server was never asked for the deleted order alone"


def test_without_the_refusal_an_unknown_order_simply_has_no_children(akinon_default, tmp_path):
    server = akinon_default
    summary = FetchOrderItemsOperator(
        task_id="c", destination=str(tmp_path), order_ids=[1, 10_000_000, 2], page_size=12
    ).execute({})
    assert [r["pk"] for r in iter_export_records(summary["uri"])] == [
        pk for o in (1, 2) for pk in server.data.item_pks(o)
    ]
    assert "orders_gone" not in read_manifest(summary["uri"])


def test_a_400_about_anything_else_fails_the_export_and_publishes_nothing(akinon_default, tmp_path):
    server = akinon_default
    server.api.refuse_unknown_orders = True
    server.api.ignore_params = frozenset({"order__in"})
    server.data.delete_order(7, at=0)
    original = server._children

    def other_refusal(handler, path, query, render, kind):
        if query.get("order") == "9":
            raise FilterError("limit", "Ensure this value is less than or equal to 100.")
        return original(handler, path, query, render, kind)

    server._children = other_refusal
    with pytest.raises(AkinonApiError, match="limit"):
        export(FetchOrderItemsOperator, tmp_path, page_size=12)
    assert not list(tmp_path.rglob("_manifest.json"))


def test_a_refusal_of_every_order_is_an_error_not_an_empty_export(akinon_default, tmp_path):
    """All orders refused as unknown is a tenant whose filter refuses these ids, not deletions to skip."""
    server = akinon_default
    server.api.refuse_unknown_orders = True
    for order in ORDERS:
        server.data.delete_order(order, at=0)
    with pytest.raises(ExportConsistencyError, match=r"refused every one of the 120 orders asked for"):
        export(FetchOrderItemsOperator, tmp_path, page_size=12)
    assert not list(tmp_path.rglob("_manifest.json"))
