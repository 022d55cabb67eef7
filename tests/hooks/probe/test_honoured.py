"""The capability probe against every API variant the fake server can play, judged by records."""

from __future__ import annotations

import pytest


def test_an_api_that_honours_everything(make_hook, server):
    caps = make_hook(page_size=50).probe("orders/", date_field="created_date")
    assert (caps.count, caps.limit, caps.page_size, caps.capped) == (500, 50, 50, False)
    assert (caps.pagination, caps.sort, caps.sort_param, caps.size_param) == ("page", "id", "sort", "limit")
    assert caps.sort_id
    assert caps.id_gt
    assert caps.id_lt
    assert caps.date_gte
    assert caps.date_lt
    assert caps.keyset
    assert not caps.date_filter_ignored
    assert caps.default_order == "desc"  # the fake's default order, as Akinon's lists show newest first
    assert caps.offset == "Z"
    assert caps.rtt_ms > 0
    assert caps.requests == len(server.log.paths) - 1  # every request but the login
    assert caps.requests <= 10


def test_without_a_page_size_the_largest_page_the_tenant_allows_is_found(make_hook, server):
    server.api.max_limit = 300
    caps = make_hook().probe("orders/")
    assert (caps.limit, caps.page_size, caps.capped) == (1000, 300, True)


def test_a_silent_limit_cap_is_found_and_logged_once(make_hook, server, caplog, capfd):
    server.api.max_limit = 100
    hook = make_hook(page_size=250)
    caps = hook.probe("orders/", date_field="created_date")
    assert (caps.limit, caps.page_size, caps.capped) == (250, 100, True)
    hook.probe("orders/", date_field="created_date")  # cached
    # Airflow 3 hooks log through structlog to stdout; Airflow 2 through logging (and its console handler)
    message = "The API caps limit at 100 (asked 250)"
    assert max(caplog.text.count(message), "".join(capfd.readouterr()).count(message)) == 1


@pytest.mark.parametrize(
    ("ignored", "expected"),
    [
        ({"sort"}, {"sort_id": False, "keyset": False}),
        ({"id__gt", "id__gte"}, {"id_gt": False, "keyset": False}),
        ({"id__lt"}, {"id_lt": False, "keyset": False}),
        ({"created_date__gte"}, {"date_gte": False, "date_filter_ignored": True}),
        ({"created_date__lt"}, {"date_lt": False, "date_filter_ignored": True}),
    ],
)
def test_each_ignored_parameter_is_found(make_hook, server, ignored, expected):
    server.api.ignore_params = frozenset(ignored)
    caps = make_hook(page_size=100).probe("orders/", date_field="created_date")
    for name, value in expected.items():
        assert getattr(caps, name) == value, name
    untouched = {"sort_id", "id_gt", "id_lt", "date_gte", "date_lt"} - set(expected)
    for name in untouched:
        assert getattr(caps, name) is True, name


@pytest.mark.parametrize("default_sort", ["id", "-id"])
def test_sort_ignored_is_found_whatever_the_default_order(make_hook, server, default_sort):
    server.api.ignore_params = frozenset({"sort"})
    server.api.default_sort = default_sort  # answers look sorted by accident one way or the other
    caps = make_hook(page_size=100).probe("orders/")
    assert caps.sort_id is False
    assert caps.default_order == ("asc" if default_sort == "id" else "desc")
    assert (caps.id_gt, caps.id_lt) == (True, True)  # judged against the default order's records


def test_ordering_is_found_when_sort_is_not_the_parameter(make_hook, server):
    server.api.sort_param = "ordering"
    caps = make_hook(page_size=100).probe("orders/")
    assert (caps.sort, caps.sort_param) == ("id", "ordering")
    assert caps.keyset


@pytest.mark.parametrize(
    ("pagination", "expected"), [("page", "page"), ("limit_offset", "limit_offset"), ("cursor", "cursor")]
)
def test_the_paging_style_is_found(make_hook, server, pagination, expected):
    server.api.pagination = pagination
    caps = make_hook(page_size=50).probe("orders/")
    assert caps.pagination == expected
    assert caps.count == (None if pagination == "cursor" else 500)


def test_a_list_that_fits_one_page_says_so(make_hook):
    caps = make_hook().probe("orders/")  # 500 orders, pages of up to 1000
    assert caps.pagination == "single"
    assert caps.page_size == 1000


@pytest.mark.parametrize(("style", "label"), [("Z", "Z"), ("+03:00", "+03:00"), ("naive+03:00", "naive")])
def test_timestamp_styles_are_reported(make_hook, server, style, label):
    server.data.set_timestamps(style)
    assert make_hook().probe("orders/").offset == label


def test_a_date_field_the_endpoint_cannot_filter_is_found(make_hook):
    caps = make_hook(page_size=100).probe("/api/v1/oms/order_items/", date_field="date_placed")
    assert caps.date_filter_ignored
    assert caps.keyset  # its ids still work


def test_too_few_records_is_unknown_not_a_guess(make_hook, server):
    caps = make_hook().probe("orders/", params={"number": server.data.order(7)["number"]})
    assert caps.count == 1
    assert (caps.sort_id, caps.id_gt, caps.id_lt) == (None, None, None)
    assert not caps.keyset
    assert "cannot tell" in caps.summary()


def test_batch_lookup_is_probed_both_ways(make_hook, server):
    hook = make_hook()
    assert hook.probe_batch_lookup("order_item/detailed_integration/", "order", [1, 2]) is True
    server.api.ignore_params = frozenset({"order__in"})
    assert hook.probe_batch_lookup("order_item/detailed_integration/", "order", [1, 2]) is False


@pytest.mark.parametrize("default_sort", ["id", "-id"])
def test_the_probe_is_right_while_orders_are_inserted_and_updated_between_its_requests(
    make_hook, server, default_sort
):
    """A busy shop: before every request an order is created and another updated, ten probes running."""
    server.api.default_sort = default_sort
    server.faults.churn_every = 1
    for date_field in ("created_date", "modified_date") * 5:
        caps = make_hook(page_size=100).probe("orders/", date_field=date_field)
        assert (caps.sort_id, caps.id_gt, caps.id_lt) == (True, True, True)
        assert (caps.date_gte, caps.date_lt) == (True, True), date_field
    assert len(server.log.inserted) >= 50  # the churn really ran between the requests
