"""Exports from a tenant built of Django REST Framework's stock parts, while a busy shop writes to it.

The tenant (``tests/drf_tenant``) pages, sorts, filters and throttles as DRF and django-filter do, on
SQLite, while a writer inserts about 2 orders a second and updates about 3. Every export is compared
with the database: ``created_date`` windows exactly; ``modified_date`` windows by the changes-feed rule
(every order in the window when the walk ended, once; any other one left it during the walk).
"""

from __future__ import annotations

import pytest

pytest.importorskip("rest_framework")

from datetime import UTC, datetime, timedelta

from airflow_provider_akinon.exports import iter_export_records, read_manifest
from airflow_provider_akinon.hooks.akinon import AkinonHook
from airflow_provider_akinon.operators.akinon import (
    FetchDiscountItemsOperator,
    FetchOrderItemsOperator,
    FetchOrdersOperator,
)
from tests.drf_tenant.tenant import drf_tenant, instant

WRITES = {"inserts": 2, "updates": 3}
#: the DRF alternatives a tenant may be configured with (point 3 of the issue)
SWITCHES = [(), ("limit_offset",), ("no_ordering",), ("no_id_lookups",), ("ordering",)]


@pytest.fixture(scope="module", params=SWITCHES, ids=lambda s: "+".join(s) or "stock")
def tenant(request, tmp_path_factory):
    home = tmp_path_factory.mktemp("drf")
    with drf_tenant(home, switches=request.param, orders=2000, days=2, **WRITES) as running:
        yield running


@pytest.fixture
def connected(tenant, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_AKINON_DEFAULT", tenant.connection_json())
    return tenant


def windows(tenant) -> tuple[datetime, datetime]:
    """A closed six-hour window in the middle of the seeded days."""
    first = min(instant(at) for (at,) in tenant.rows("orders", "created_date"))
    start = (first + timedelta(hours=12)).replace(minute=0, second=0, microsecond=0)
    return start, start + timedelta(hours=6)


def keys(summary, key="id"):
    return [record[key] for record in iter_export_records(summary["uri"])]


def test_created_date_windows_of_orders_items_and_discounts_are_exact(connected, tmp_path):
    start, end = windows(connected)
    window = {"start": start, "end": end}
    orders = FetchOrdersOperator(task_id="o", destination=str(tmp_path / "o"), **window).execute({})
    items = FetchOrderItemsOperator(
        task_id="i", destination=str(tmp_path / "i"), orders_from=orders, **window
    ).execute({})
    discounts = FetchDiscountItemsOperator(
        task_id="d", destination=str(tmp_path / "d"), orders_from=orders, **window
    ).execute({})
    truth = connected.ids("orders", "created_date", start, end)
    assert sorted(keys(orders)) == truth
    assert len(truth) > 200
    assert sorted(keys(items, "pk")) == connected.children("order_items", truth)
    assert sorted(keys(discounts, "pk")) == connected.children("discount_items", truth)


def test_a_modified_date_window_holds_every_order_still_in_it_once(connected, tmp_path):
    start, end = windows(connected)
    summary = FetchOrdersOperator(
        task_id="o", destination=str(tmp_path), date_field="modified_date", start=start, end=end
    ).execute({})
    got = keys(summary)
    assert len(got) == len(set(got))
    still = connected.ids("orders", "modified_date", start, end)  # after the walk ended
    assert set(still) <= set(got)
    left = set(got) - set(still)
    current = connected.current()
    assert all(current[order][1] >= end for order in left)  # updated after the window: they left it
    manifest = read_manifest(summary["uri"])
    assert manifest["left_window"] <= len(left)


def test_the_probe_is_right_ten_times_out_of_ten_while_the_shop_writes(connected, request):
    switches = request.node.callspec.params["tenant"]
    for _ in range(10):
        caps = AkinonHook("akinon_default").probe("orders/", date_field="modified_date")
        assert (caps.date_gte, caps.date_lt) == (True, True)
        assert caps.id_gt is ("no_id_lookups" not in switches)
        assert caps.sort_id is ("no_ordering" not in switches)
        expected = "limit_offset" if "limit_offset" in switches else "page"
        assert caps.pagination == expected
        assert caps.page_size == 500  # the largest page the tenant allows (max_page_size)
        assert caps.sort_param == ("ordering" if "ordering" in switches else "sort")


def test_children_are_sorted_by_the_key_their_serializer_names(connected):
    caps = AkinonHook("akinon_default").probe(
        "order_item/detailed_integration/", date_field="created_date", key="pk"
    )
    assert caps.sort == ("pk" if caps.sort_id else None)  # sort=id is ignored where the key is named pk


def test_offsets_in_another_time_zone(tmp_path, monkeypatch):
    with drf_tenant(tmp_path / "tz", tz="Europe/Istanbul", orders=600, days=1, **WRITES) as tenant:
        monkeypatch.setenv("AIRFLOW_CONN_AKINON_DEFAULT", tenant.connection_json())
        caps = AkinonHook("akinon_default").probe("orders/")
        assert caps.offset == "+03:00"
        start, end = windows(tenant)
        start = max(start, datetime.now(UTC) - timedelta(hours=20))
        summary = FetchOrdersOperator(
            task_id="o", destination=str(tmp_path / "o"), start=start, end=end
        ).execute({})
        assert sorted(keys(summary)) == tenant.ids("orders", "created_date", start, end)
