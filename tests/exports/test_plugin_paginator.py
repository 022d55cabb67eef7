"""A paging style the package does not know (the next page's link in a ``Link`` header, as Shopify's and
GitHub's APIs page), declared in this file only and registered with one line: the probe recognises it
from the answer's headers and an export walks by it, exactly; unregistered, the export fails clearly."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from airflow_provider_akinon.errors import AkinonApiError, AkinonPageError
from airflow_provider_akinon.exports import iter_export_records, read_manifest
from airflow_provider_akinon.hooks.paging import PAGINATORS
from airflow_provider_akinon.hooks.records import Page
from airflow_provider_akinon.operators.akinon import FetchOrdersOperator
from airflow_provider_akinon.testing import AkinonData, FakeAkinonServer

DAY = {"start": "2026-01-02T00:00:00Z", "end": "2026-01-03T00:00:00Z"}
NEXT = re.compile(r'<([^>]*)>\s*;\s*rel="?next"?')


def next_link(page: Page) -> str | None:
    """The URL of the ``Link`` header's ``rel="next"``, if any."""
    found = NEXT.search(page.headers.get("Link", ""))
    return found[1] if found else None


class LinkHeaderPaginator:
    """The next page is the query of the ``Link`` header's ``rel="next"`` URL (never its host)."""

    name = "link"
    moves = "the link in the Link header"
    cursor_like = True  # the link carries a position after the last record, not a page number

    def __init__(self, size_param: str) -> None:
        self.size_param = size_param

    @classmethod
    def of(cls, paging: Any) -> LinkHeaderPaginator:
        return cls(paging.size_param)

    @staticmethod
    def detects(first: Page, linked: Mapping[str, str], moved: Mapping[str, bool]) -> bool:
        return next_link(first) is not None

    def first(self, params: Mapping[str, Any], limit: int) -> dict[str, Any]:
        return {**params, self.size_param: limit}

    def following(self, query: dict[str, Any], page: Page) -> dict[str, Any] | None:
        link = next_link(page)
        return dict(parse_qsl(urlsplit(link).query)) if link and len(page) else None

    def past_end(self, err: AkinonApiError, query: Mapping[str, Any]) -> bool:
        return False

    def pages_allowed(self, pages: int, page: Page) -> int | None:
        return None  # no count: the walk ends where the links end


@pytest.fixture
def link_server():
    """A tenant whose orders page by a ``Link`` header (no ``count``, no ``next`` in the body)."""
    with (
        FakeAkinonServer(AkinonData(orders=500)) as server,
        FakeAkinonServer(AkinonData(orders=5)) as foreign,
    ):
        server.api.pagination = "link"
        server.faults.foreign_next = f"127.0.0.1:{foreign.port}"  # the links name another host
        yield server, foreign


def export(tmp_path, server, name: str) -> dict:
    return FetchOrdersOperator(
        task_id="orders", destination=str(tmp_path / name), akinon_conn_id="akinon_link", **DAY
    ).execute({})


def test_a_registered_link_header_paginator_is_probed_and_walks_the_list_exactly(
    tmp_path, monkeypatch, link_server
):
    server, foreign = link_server
    monkeypatch.setitem(PAGINATORS, LinkHeaderPaginator.name, LinkHeaderPaginator)  # the one line
    monkeypatch.setenv("AIRFLOW_CONN_AKINON_LINK", server.connection_json(page_size=20))
    summary = export(tmp_path, server, "orders")

    got = [record["id"] for record in iter_export_records(summary["uri"])]
    assert sorted(got) == server.data.expected("orders", "created_date", DAY["start"], DAY["end"])
    assert len(got) == len(set(got))
    assert read_manifest(summary["uri"])["probe"]["pagination"] == "link"
    followed = [path for path in server.log.paths if "cursor=" in path and "limit=20" in path]
    assert len(followed) >= len(got) // 20 - 1  # the walk went page by page through the header's links
    assert foreign.log.requests == 0  # the link's host is never used: the token stays home


def test_unregistered_a_full_page_without_count_or_next_fails_and_publishes_nothing(
    tmp_path, monkeypatch, link_server
):
    server, _ = link_server
    monkeypatch.setenv("AIRFLOW_CONN_AKINON_LINK", server.connection_json(page_size=20))
    with pytest.raises(AkinonPageError, match="neither a count nor a next link") as err:
        export(tmp_path, server, "orders")
    assert "pagination" in str(err.value)  # names the fix
    assert not (tmp_path / "orders").exists() or not list((tmp_path / "orders").rglob("_manifest.json"))
