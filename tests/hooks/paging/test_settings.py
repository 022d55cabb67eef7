"""The connection sets what the probe would find (``pagination``, ``sort_param``, ``size_param``) where a tenant
misleads it: the walk then pages as the connection says, and the probe's table says who decided."""

from __future__ import annotations

import pytest

from airflow_provider_akinon.errors import AkinonConfigError, AkinonPageError
from airflow_provider_akinon.exports import iter_export_records, read_manifest
from airflow_provider_akinon.operators.akinon import FetchOrdersOperator

DAY = {"start": "2026-01-02T00:00:00Z", "end": "2026-01-03T00:00:00Z"}
NO_KEYSET = frozenset({"id__gt", "id__gte", "id__lt", "sort"})  # the list is walked by its own paging


def export(server, monkeypatch, tmp_path, **extra):
    monkeypatch.setenv("AIRFLOW_CONN_AKINON_DEFAULT", server.connection_json(max_retries=1, **extra))
    summary = FetchOrdersOperator(task_id="o", destination=str(tmp_path), page_size=20, **DAY).execute({})
    got = [record["id"] for record in iter_export_records(summary["uri"])]
    assert sorted(got) == server.data.expected("orders", "created_date", DAY["start"], DAY["end"])
    assert len(got) == len(set(got))
    return read_manifest(summary["uri"])["probe"]


def test_the_pagination_extra_decides_the_walk(server, monkeypatch, tmp_path):
    server.api.pagination, server.api.ignore_params = "limit_offset", NO_KEYSET
    probe = export(server, monkeypatch, tmp_path / "set", pagination="limit_offset")
    assert (probe["pagination"], probe["settings"]) == ("limit_offset", ["pagination"])
    # set wrongly, it is obeyed: page numbers over a list that ignores them end in a clear error
    monkeypatch.setenv(
        "AIRFLOW_CONN_AKINON_DEFAULT", server.connection_json(pagination="page", max_retries=1)
    )
    with pytest.raises(AkinonPageError, match="same records as page"):
        FetchOrdersOperator(task_id="o", destination=str(tmp_path / "wrong"), page_size=20, **DAY).execute({})


def test_the_sort_param_extra_is_asked_first_and_only(server, monkeypatch, tmp_path):
    server.api.sort_param = "ordering"
    probe = export(server, monkeypatch, tmp_path, sort_param="ordering")
    assert (probe["sort_param"], probe["sort"], probe["paging"]) == ("ordering", "id", "keyset")
    assert not [path for path in server.log.paths if "sort=" in path]


@pytest.mark.parametrize("server_takes", ["page_size", "limit"])
def test_the_size_param_extra_names_the_page_size(server, monkeypatch, tmp_path, server_takes):
    """Obeyed even where the tenant takes another name: the walk then pages by what the API returns."""
    server.api.size_param, server.api.ignore_params = server_takes, NO_KEYSET
    probe = export(server, monkeypatch, tmp_path, size_param="page_size")
    assert (probe["size_param"], probe["settings"]) == ("page_size", ["size_param"])
    walked = [path for path in server.log.paths if "created_date__gte=2026-01-02" in path and "page=" in path]
    assert walked
    assert all("page_size=20" in path and "limit=" not in path for path in walked)


def test_the_probe_table_says_what_the_connection_set(make_hook):
    hook = make_hook(pagination="page", sort_param="sort")
    rows = dict(hook.probe("orders/").rows())
    assert rows["paging"] == "page (set by the connection's pagination extra)"
    assert rows["sort"] == "sort=id honoured (set by the connection's sort_param extra)"
    assert "set by" not in rows["page size (limit)"]


@pytest.mark.parametrize(("name", "value"), [("pagination", "offset"), ("sort_param", "order_by")])
def test_a_value_the_provider_cannot_walk_by_is_refused_naming_the_choices(make_hook, server, name, value):
    hook = make_hook(**{name: value})
    with pytest.raises(AkinonConfigError, match=f"{name}='{value}' .* is not one of"):
        hook.probe("orders/")  # the paging styles are read late (plug-ins register theirs): at the probe
    assert server.log.requests == 0  # before any request
