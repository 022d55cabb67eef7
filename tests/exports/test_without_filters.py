"""A tenant configured as Akinon documents ``orders/``: no date lookups. Each window is still exact.

Depending on what else the list honours, the provider finds the window by bisection on ids, walks
newest first until past it, or (only when allowed) scans the whole list; every way cuts the window on
the client, while orders are created and updated between requests (``churn``), and within a bound of
requests that the method promises.
"""

from __future__ import annotations

import math

import pytest

from airflow_provider_akinon.errors import ExportConsistencyError
from airflow_provider_akinon.exports import iter_export_records, read_manifest
from airflow_provider_akinon.operators.akinon import FetchOrdersOperator

DAY = {"start": "2026-01-02T00:00:00Z", "end": "2026-01-03T00:00:00Z"}
DATES = {f"{field}__{op}" for field in ("created_date", "modified_date") for op in ("gte", "gt", "lt", "lte")}
IDS = {"id__gt", "id__gte", "id__lt", "id__lte"}


def export(destination, date_field="created_date", **kwargs):
    return FetchOrdersOperator(
        task_id="o", destination=str(destination), date_field=date_field, page_size=20, **{**DAY, **kwargs}
    ).execute({})


def data_requests(server):
    return sum(1 for path in server.log.paths if "/orders/" in path)


@pytest.mark.parametrize(
    ("tenant", "method"),
    [
        ({"ignore": DATES}, "bisect"),
        ({"ignore": DATES | IDS}, "nearend"),
        ({"ignore": DATES | IDS | {"sort"}}, "nearend"),  # the default order: newest first
    ],
)
def test_a_created_date_window_is_exact_without_date_filters(akinon_default, tmp_path, tenant, method):
    server = akinon_default
    server.api.ignore_params = frozenset(tenant["ignore"])
    server.faults.churn_every = 3  # a busy shop between requests
    summary = export(tmp_path)
    server.faults.churn_every = 0
    got = [record["id"] for record in iter_export_records(summary["uri"])]
    truth = server.data.expected("orders", "created_date", DAY["start"], DAY["end"])
    assert sorted(got) == truth
    assert len(got) == len(set(got))
    manifest = read_manifest(summary["uri"])
    assert manifest["paging"] == method
    assert manifest["cut_outside_window"] >= 0
    requests = data_requests(server)
    ids = len(server.data.ids)
    if method == "bisect":  # the window's pages and about log2(ids) requests more (two bisections)
        assert requests <= math.ceil(len(truth) / 20) * 2 + 4 * math.ceil(math.log2(ids)) + 40
    else:  # proportional to the records since the window began (newest first)
        since = len(server.data.order_ids("created_date", server.data.created[truth[0] - 1], None))
        assert requests <= 2 * (math.ceil(since / 20) + 2) + 20


def test_a_modified_date_window_is_walked_newest_first_by_that_date(akinon_default, tmp_path):
    server = akinon_default
    server.api.ignore_params = frozenset(DATES)
    server.faults.churn_every = 3
    summary = export(tmp_path, date_field="modified_date")
    server.faults.churn_every = 0
    got = {record["id"] for record in iter_export_records(summary["uri"])}
    still = set(server.data.expected("orders", "modified_date", DAY["start"], DAY["end"]))
    assert still <= got  # every order still in the window; the others left it, updated "now"
    assert all(server.data.modified[order - 1] >= server.data.end for order in got - still)
    assert read_manifest(summary["uri"])["paging"] == "nearend"


def test_nothing_but_page_is_refused_with_its_cost_unless_a_full_scan_is_allowed(akinon_default, tmp_path):
    server = akinon_default
    server.api.ignore_params = frozenset(DATES | IDS | {"sort"})
    server.api.default_sort = "id"  # oldest first: walking newest first is not possible
    with pytest.raises(
        ExportConsistencyError, match=r"about 25 requests of 20 records.*allow_full_scan=True"
    ):
        export(tmp_path / "refused")
    server.faults.churn_every = 3
    summary = export(tmp_path / "scan", allow_full_scan=True)
    server.faults.churn_every = 0
    got = [record["id"] for record in iter_export_records(summary["uri"])]
    assert sorted(got) == server.data.expected("orders", "created_date", DAY["start"], DAY["end"])
    assert read_manifest(summary["uri"])["paging"] == "fullscan"


def test_a_data_warehouse_connection_with_day_filters_exports_a_window_exactly(
    akinon_default, tmp_path, monkeypatch
):
    """Akinon's Data Warehouse API: its prefix, and date filters that take days (YYYY-MM-DD)."""
    server = akinon_default
    server.api.date_only = True
    monkeypatch.setenv(
        "AIRFLOW_CONN_AKINON_DEFAULT", server.connection_json(api_prefix="api/v1/remote/1/data-warehouse/")
    )
    window = {"start": "2026-01-02T06:00:00Z", "end": "2026-01-02T18:00:00Z"}  # not whole days
    server.faults.churn_every = 3
    summary = FetchOrdersOperator(
        task_id="o", destination=str(tmp_path), date_field="modified_date", page_size=20, **window
    ).execute({})
    server.faults.churn_every = 0
    got = {record["id"] for record in iter_export_records(summary["uri"])}
    still = set(server.data.expected("orders", "modified_date", window["start"], window["end"]))
    assert still <= got
    assert all(server.data.modified[order - 1] >= server.data.end for order in got - still)
    manifest = read_manifest(summary["uri"])
    assert manifest["probe"]["date_unit"] == "day"
    assert manifest["cut_outside_window"] > 0  # the rest of the covering day, dropped on the client
    assert all("/data-warehouse/orders/" in path for path in server.log.paths if "orders" in path)
    assert any("modified_date__gte=2026-01-02&" in path for path in server.log.paths)
