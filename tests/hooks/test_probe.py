"""The capability probe against every API variant the fake server can play."""

from __future__ import annotations

import pytest

from airflow_provider_akinon.hooks.probe import FAR_FUTURE


def test_an_api_that_honours_everything(make_hook):
    caps = make_hook(page_size=50).probe("orders/", date_field="created_date")
    assert (caps.count, caps.limit, caps.page_size, caps.capped) == (500, 50, 50, False)
    assert caps.sort_id
    assert caps.id_gt
    assert caps.id_lt
    assert caps.date_gte
    assert caps.date_lt
    assert caps.keyset
    assert not caps.date_filter_ignored
    assert caps.offset == "Z"
    assert caps.rtt_ms > 0


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
    caps = make_hook().probe("orders/", date_field="created_date")
    for name, value in expected.items():
        assert getattr(caps, name) == value, name
    untouched = {"sort_id", "id_gt", "id_lt", "date_gte", "date_lt"} - set(expected)
    assert all(
        getattr(caps, name) for name in untouched if name not in ("id_gt", "id_lt") or "sort" not in ignored
    )


def test_sort_ignored_with_an_ascending_default_order_is_still_found(make_hook, server):
    server.api.ignore_params = frozenset({"sort"})
    server.api.default_sort = "id"  # answers look sorted by accident: sort=-id gives them away
    assert make_hook().probe("orders/").sort_id is False


@pytest.mark.parametrize(("style", "label"), [("Z", "Z"), ("+03:00", "+03:00"), ("naive+03:00", "naive")])
def test_timestamp_styles_are_reported(make_hook, server, style, label):
    server.data.set_timestamps(style)
    assert make_hook().probe("orders/").offset == label


def test_a_date_field_the_endpoint_cannot_filter_is_found(make_hook):
    caps = make_hook().probe("/api/v1/oms/order_items/", date_field="date_placed")
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


def test_probe_asks_with_far_bounds_only(make_hook, server):
    make_hook().probe("orders/")
    assert any(FAR_FUTURE.replace(":", "%3A") in p for p in server.log.paths)
