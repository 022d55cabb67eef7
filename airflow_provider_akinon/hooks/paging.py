"""Paging strategies behind one small interface, and the one loop that walks a list with any of them.

A paginator says what the first query is and what the next one is after a page; the loop in
:func:`iter_pages` sends them. Both strategies trust the server's answers, not the request: a walk
ends on ``next: null`` or an empty page, never because a page is shorter than the ``limit`` asked for
(a tenant may cap ``limit`` silently).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from airflow_provider_akinon.hooks.errors import AkinonApiError
from airflow_provider_akinon.hooks.records import Page


class Paginator(Protocol):
    def first(self, params: Mapping[str, Any], limit: int) -> dict[str, Any]:
        """The query of the first page."""

    def following(self, query: dict[str, Any], page: Page) -> dict[str, Any] | None:
        """The query of the page after ``page`` (fetched with ``query``); ``None`` at the end."""

    def past_end(self, err: AkinonApiError, query: Mapping[str, Any]) -> bool:
        """True when ``err`` only means the list ended (a 404 "Invalid page." past the last page)."""


class PageNumberPaginator:
    """
    ``page`` and ``limit``, sorted by ``id`` unless the params sort. Follows ``next`` by its ``page``
    only (never its host: the token stays on the connection's host), else ``page + 1``.
    """

    def first(self, params: Mapping[str, Any], limit: int) -> dict[str, Any]:
        query = {"sort": "id", **params, "limit": limit}
        query.setdefault("page", 1)
        return query

    def following(self, query: dict[str, Any], page: Page) -> dict[str, Any] | None:
        if not page.next or not len(page):
            return None
        linked = dict(parse_qsl(urlsplit(page.next).query)).get("page")
        current = int(query["page"])
        number = int(linked) if linked and linked.isdigit() and int(linked) > current else current + 1
        return {**query, "page": number}

    def past_end(self, err: AkinonApiError, query: Mapping[str, Any]) -> bool:
        return err.status == 404 and int(query["page"]) > 1 and "invalid page" in err.body.lower()


class KeysetPaginator:
    """
    ``sort=<key>`` and a ``<key>__gt`` cursor after the last record of each page: unlike page numbers,
    a cursor cannot skip a record when another one leaves the list mid-walk.

    :param key: the field of each record the cursor reads (``id``).
    :param lookup: the filter name of that field (``id`` for ``id__gt``).
    """

    def __init__(self, key: str = "id", lookup: str = "id") -> None:
        self.key = key
        self.lookup = lookup

    def first(self, params: Mapping[str, Any], limit: int) -> dict[str, Any]:
        query = {**params, "sort": self.lookup, "limit": limit}
        query.pop("page", None)
        return query

    def following(self, query: dict[str, Any], page: Page) -> dict[str, Any] | None:
        if not len(page) or not page.next:
            return None
        following = {**query, f"{self.lookup}__gt": page.field(self.key, page.keys)[-1]}
        following.pop(f"{self.lookup}__gte", None)
        return following

    def past_end(self, err: AkinonApiError, query: Mapping[str, Any]) -> bool:
        return False


def iter_pages(
    get_page: Callable[[str, Mapping[str, Any]], Page],
    endpoint: str,
    params: Mapping[str, Any],
    paginator: Paginator,
    limit: int,
) -> Iterator[Page]:
    """Yield the pages of ``endpoint`` one at a time, as ``paginator`` walks it with ``get_page``."""
    query: dict[str, Any] | None = paginator.first(params, limit)
    while query is not None:
        try:
            page = get_page(endpoint, query)
        except AkinonApiError as err:
            if paginator.past_end(err, query):
                return
            raise
        yield page
        query = paginator.following(query, page)
