"""Every tenant shape Django REST Framework offers, while a busy shop writes: a past day is exact.

Each shape is a DRF tenant configured another way (its switches in ``tests/drf_tenant/settings.py``):
no date lookups, no id lookups, no ordering, ``ordering`` and ``page_size`` parameter names,
limit/offset and cursor paging, date filters that take days. A past day of orders is exported while
the writer inserts about 2 orders a second and updates about 3, compared with the database, and the
requests it took are held to the bound of the method the probe chose.
"""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

pytest.importorskip("rest_framework")

from airflow_provider_akinon.exports import iter_export_records, read_manifest
from airflow_provider_akinon.operators.akinon import FetchOrdersOperator
from tests.drf_tenant.tenant import drf_tenant, instant

SHAPES = {
    "date filters ignored, ids honoured": (("no_date_lookups",), "bisect"),
    "no id lookups, newest first": (("no_date_lookups", "no_id_lookups", "newest_first"), "nearend"),
    "nothing but page": (("no_date_lookups", "no_id_lookups", "no_ordering"), "fullscan"),
    "ordering and page_size": (("ordering", "page_size_param"), "keyset"),
    "limit/offset": (("limit_offset", "no_id_lookups"), "page"),
    "cursor": (("cursor", "no_id_lookups"), "page"),
    "days only": (("date_only",), "keyset"),
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_a_past_day_is_exact_on_every_tenant_shape(tmp_path, monkeypatch, shape):
    switches, method = SHAPES[shape]
    with drf_tenant(tmp_path / "t", switches=switches, orders=1500, days=3, inserts=2, updates=3) as tenant:
        monkeypatch.setenv("AIRFLOW_CONN_AKINON_DEFAULT", tenant.connection_json())
        first = min(instant(at) for (at,) in tenant.rows("orders", "created_date"))
        start = (first + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        end = start + timedelta(days=1)
        logged = tenant.requests()
        summary = FetchOrdersOperator(
            task_id="o", destination=str(tmp_path / "o"), start=start, end=end, allow_full_scan=True
        ).execute({})
        requests = tenant.requests() - logged
        truth = tenant.ids("orders", "created_date", start, end)
        total = len(tenant.rows("orders", "id"))
    got = [record["id"] for record in iter_export_records(summary["uri"])]
    assert sorted(got) == truth
    assert len(got) == len(set(got)) > 300
    manifest = read_manifest(summary["uri"])
    assert manifest["paging"] == method
    pages = math.ceil(len(truth) / manifest["probe"]["page_size"])
    bound = {
        "keyset": 2 * pages + 30,
        "page": 2 * pages + 30,
        "bisect": 2 * pages + 4 * math.ceil(math.log2(total)) + 40,
        "nearend": 2 * math.ceil(total / manifest["probe"]["page_size"]) + 30,
        "fullscan": 2 * math.ceil(total / manifest["probe"]["page_size"]) + 30,
    }[method]
    assert requests <= bound, (requests, bound)
