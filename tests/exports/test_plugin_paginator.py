"""A paging style the package does not know (a page token in the body, the records under ``items``, no
count), declared in this file only and registered with one line: the probe recognises its envelope and its
style from the first answer, and an export walks by it exactly; unregistered, the export is refused at once,
naming what the answer lacked, and never published short."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from airflow_provider_akinon.errors import AkinonPageError, ExportConsistencyError
from airflow_provider_akinon.exports import iter_export_records, read_manifest
from airflow_provider_akinon.hooks.paging.envelope import Envelope
from airflow_provider_akinon.hooks.paging.records import Page
from airflow_provider_akinon.hooks.paging.styles import PAGINATORS, BasePaginator
from airflow_provider_akinon.operators.akinon import FetchOrdersOperator
from airflow_provider_akinon.testing import AkinonData, FakeAkinonServer

DAY = {"start": "2026-01-02T00:00:00Z", "end": "2026-01-03T00:00:00Z"}
#: the token tenant's lists honour neither page numbers, nor offsets, nor id lookups: only its token moves
ONLY_THE_TOKEN = frozenset({"page", "offset", "id__gt", "id__gte", "id__lt"})


class BodyTokenPaginator(BasePaginator):
    """The records under ``items``, the next page's token in ``next_page_token`` (``null`` on the last
    page), sent back as ``page_token``."""

    name = "body_token"
    moves = "the page token"
    envelope = Envelope("items_token", records="items", count=None, next="next_page_token")

    @staticmethod
    def detects(first: Page, linked: Mapping[str, str], moved: Mapping[str, bool]) -> bool:
        return first.envelope is BodyTokenPaginator.envelope and first.next is not None

    def first(self, params: Mapping[str, Any], limit: int) -> dict[str, Any]:
        return self._base(params, limit)

    def following(self, query: dict[str, Any], page: Page) -> dict[str, Any] | None:
        return {**query, "page_token": page.next} if page.next else None


@pytest.fixture
def token_server():
    """A tenant answering ``{"next_page_token": ..., "items": [...]}``, capping pages at 100 silently."""
    with FakeAkinonServer(AkinonData(orders=500)) as server:
        server.api.envelope, server.api.next_in, server.api.count_in = "items", "token", "none"
        server.api.max_limit = 100
        server.api.ignore_params = ONLY_THE_TOKEN
        yield server


def export(tmp_path, monkeypatch, server, name: str, **extra: Any) -> dict:
    monkeypatch.setenv("AIRFLOW_CONN_AKINON_TOKEN", server.connection_json(max_retries=2, **extra))
    return FetchOrdersOperator(
        task_id="orders", destination=str(tmp_path / name), akinon_conn_id="akinon_token", **DAY
    ).execute({})


def truth(server) -> list[int]:
    return server.data.expected("orders", "created_date", DAY["start"], DAY["end"])


def test_a_registered_body_token_paginator_is_probed_and_walks_the_list_exactly(
    tmp_path, monkeypatch, token_server
):
    monkeypatch.setitem(PAGINATORS, BodyTokenPaginator.name, BodyTokenPaginator)  # the one line
    summary = export(tmp_path, monkeypatch, token_server, "orders")  # no page_size: the probe learns the cap

    got = [record["id"] for record in iter_export_records(summary["uri"])]
    assert sorted(got) == truth(token_server)
    assert len(got) == len(set(got)) > 100  # more than one capped page
    manifest = read_manifest(summary["uri"])
    assert (manifest["probe"]["pagination"], manifest["probe"]["envelope"]) == ("body_token", "items_token")
    assert manifest["probe"]["page_size"] == 100  # the cap, learned: 1,000 asked, 100 answered
    assert (manifest["count"], manifest["end"]) == (None, "marker")  # no count: its null token ended it
    tokens = [path for path in token_server.log.paths if "page_token=" in path]
    assert len(tokens) >= len(got) // 100  # page after page, by the token


def test_unregistered_the_records_under_items_are_refused_at_once_naming_the_fix(
    tmp_path, monkeypatch, token_server
):
    with pytest.raises(AkinonPageError, match="records are under 'items'") as err:
        export(tmp_path, monkeypatch, token_server, "orders")
    assert "register an Envelope" in str(err.value)  # names the fix
    assert "failed after" not in str(err.value)  # not retried: another try would not heal it
    assert len([path for path in token_server.log.paths if "/orders/" in path]) <= 3
    assert not (tmp_path / "orders").exists() or not list((tmp_path / "orders").rglob("_manifest.json"))


def test_a_token_under_results_that_no_paginator_reads_is_refused_never_exported_short(
    tmp_path, monkeypatch, token_server
):
    token_server.api.envelope = "drf"  # records under results, the token beside them: no count, no next
    with pytest.raises(ExportConsistencyError, match="neither page=2 nor an offset moves") as err:
        export(tmp_path, monkeypatch, token_server, "orders")
    assert "pagination extra" in str(err.value)
    assert not (tmp_path / "orders").exists() or not list((tmp_path / "orders").rglob("_manifest.json"))
