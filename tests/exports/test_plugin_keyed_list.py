"""A list keyed by ``pk`` (its lookups ``pk__gt``, its sort ``pk``) and dated by a field of its own, declared in
this file only and registered with one line, against the DRF tenant's stock moves: the probe asks its own
key's lookups, a window is walked by keyset shards on it, ``id_range=`` exports by it, and the probe
command probes it by name."""

from __future__ import annotations

import contextlib
import io
import re
from datetime import UTC, datetime, timedelta

import pytest

pytest.importorskip("rest_framework")

from airflow_provider_akinon import probe
from airflow_provider_akinon.exports import iter_export_records, read_manifest
from airflow_provider_akinon.operators.akinon import FetchAkinonListOperator
from airflow_provider_akinon.resources import REGISTRY, Resource
from tests.drf_tenant.tenant import drf_tenant, instant

STOCK_MOVES = Resource(
    name="stock_moves",
    endpoint="stock_moves/",
    primary_key="pk",
    lookup="pk",
    date_fields=("moved_at",),
    version_field=None,
    timestamp_fields=("moved_at",),
    integer_fields=("quantity",),
    string_fields=("sku",),
)


@pytest.fixture(autouse=True)
def stock_moves(monkeypatch):
    monkeypatch.setitem(REGISTRY, STOCK_MOVES.name, STOCK_MOVES)  # the one line that registers it


@pytest.fixture(scope="module")
def tenant(tmp_path_factory):
    with drf_tenant(
        tmp_path_factory.mktemp("tenant"), orders=10, stock_moves=1500, days=2, until=0
    ) as tenant:
        yield tenant


def moves(tenant, start: datetime, end: datetime) -> list[int]:
    return sorted(
        key for key, at in tenant.rows("stock_moves", "id", "moved_at") if start <= instant(at) < end
    )


def test_a_pk_keyed_list_is_walked_by_keyset_shards_on_its_own_key_and_date(tmp_path, monkeypatch, tenant):
    monkeypatch.setenv("AIRFLOW_CONN_AKINON_DEFAULT", tenant.connection_json())
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=1)
    summary = FetchAkinonListOperator(
        task_id="moves",
        endpoint="stock_moves",
        destination=str(tmp_path / "day"),
        date_field="moved_at",
        start=start,
        end=end,
        page_size=20,
        max_concurrency=4,
    ).execute({})
    got = [record["pk"] for record in iter_export_records(summary["uri"])]
    assert sorted(got) == moves(tenant, start, end)
    assert len(got) == len(set(got)) > 500
    manifest = read_manifest(summary["uri"])
    assert manifest["paging"] == "keyset"
    assert (manifest["probe"]["lookup"], manifest["probe"]["sort"]) == ("pk", "pk")
    assert (
        manifest["probe"]["id_gt"] is manifest["probe"]["id_lt"] is True
    )  # pk__gt, pk__lt asked and honoured
    assert len(manifest["files"]) == 4  # a stream (and its part file) per shard: four shards walked at once


def test_a_pk_keyed_list_exports_an_id_range_by_its_own_lookups(tmp_path, monkeypatch, tenant):
    monkeypatch.setenv("AIRFLOW_CONN_AKINON_DEFAULT", tenant.connection_json())
    summary = FetchAkinonListOperator(
        task_id="moves",
        endpoint="stock_moves",
        destination=str(tmp_path / "ids"),
        id_range=(200, 900),
        page_size=50,
    ).execute({})
    assert [record["pk"] for record in iter_export_records(summary["uri"])] == list(range(201, 901))
    assert read_manifest(summary["uri"])["id_range"] == {"after_id": 200, "to_id": 900}


def test_the_probe_command_probes_a_registered_pk_list_by_name(monkeypatch, tenant):
    monkeypatch.setenv("AIRFLOW_CONN_AKINON_DEFAULT", tenant.connection_json())
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert probe.main(["--resource", "stock_moves"]) == 0
    rows = [re.split(r"\s{2,}", line, maxsplit=1) for line in out.getvalue().splitlines()[4:]]
    table = {row[0]: row[1] for row in rows if len(row) == 2}
    assert table["pk__gt"] == table["pk__lt"] == "honoured"
    assert table["moved_at__gte"] == table["moved_at__lt"] == "honoured"
    assert table["sort"] == "sort=pk honoured"
    assert table["a day exports by"].startswith("keyset")
