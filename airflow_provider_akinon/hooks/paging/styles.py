"""Paging strategies behind one small interface, and the registry of the paging styles of lists.

A paginator says what the first query is and what the next one is after a page;
:class:`~airflow_provider_akinon.hooks.paging.walker.PageStream` sends them, and decides where the list ends from
evidence only (:mod:`~airflow_provider_akinon.hooks.paging.walker`), never from a page shorter than asked.

The styles of Django REST Framework, which Akinon runs on: page numbers (``page`` + a size parameter),
limit/offset, opaque cursors in ``next``; and keyset walks (a sort on the key and a ``__gt`` cursor).
``next`` is followed by its paging parameter only, never its host: the token stays on the
connection's host.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Protocol, Self
from urllib.parse import parse_qsl, urlsplit

from airflow_provider_akinon.errors import AkinonApiError, AkinonConfigError, AkinonPageError
from airflow_provider_akinon.hooks.config import DEFAULT_SIZE_PARAM, DEFAULT_SORT_PARAM
from airflow_provider_akinon.hooks.paging.envelope import ENVELOPES, Envelope
from airflow_provider_akinon.hooks.paging.records import Page

#: Pages a walk may take beyond what the list's count fills: records inserted while it walks.
SLACK = 1.1


def _linked(page: Page, name: str) -> str | None:
    """The value of query parameter ``name`` in the page's ``next`` link (its host is never used)."""
    return dict(parse_qsl(urlsplit(page.next or "").query)).get(name)


def _pages_for(count: int | None, page: Page) -> int | None:
    """Pages a list of ``count`` records fills at this page's size, with slack for inserts."""
    if count is None:
        return None
    return math.ceil(count * SLACK / max(1, len(page))) + 2


class Paginator(Protocol):
    """
    One paging style: the first query, the query after a page, and what ends a walk.

    A style registered in :data:`PAGINATORS` also has ``name``, ``of(paging)`` and ``detects(first, linked,
    moved)`` (see :class:`BasePaginator`) and, optionally, ``envelope`` (the
    :class:`~airflow_provider_akinon.hooks.paging.envelope.Envelope` of its answers).
    """

    #: what moves the walk, for messages ("the page parameter")
    moves: str
    #: the walk moves past the last record seen (a cursor), so a record leaving the list cannot shift it; a
    #: ``modified_date`` window walked so is exact when no record still in it was missed (the changes-feed
    #: rule), where a page-number walk must find the count exactly
    cursor_like: bool

    def first(self, params: Mapping[str, Any], limit: int) -> dict[str, Any]:
        """The query of the first page."""

    def following(self, query: dict[str, Any], page: Page) -> dict[str, Any] | None:
        """The query of the page after ``page`` (fetched with ``query``); ``None``: this style cannot ask one
        (the walk ends there only on evidence that the list ended, else it fails)."""

    def reached(self, page: Page, seen: int) -> bool:
        """Whether the list's count says it ended at ``page``, ``seen`` records into the walk."""

    def past_end(self, err: AkinonApiError, query: Mapping[str, Any]) -> bool:
        """True when ``err`` only means the list ended (a 404 "Invalid page." past the last page)."""

    def pages_allowed(self, pages: int, page: Page) -> int | None:
        """The most pages the walk may take, judged after its ``pages``-th page (``None``: no bound)."""


class Paging(Protocol):
    """What a list's paginator is built from: what the probe found (or the connection set)."""

    sort: str | None
    sort_param: str
    size_param: str


class BasePaginator:
    """
    The sort every style sends unless the caller's params sort (``{sort_param}={sort}``), and what a style needs
    to be registered in :data:`PAGINATORS`: ``name``, :meth:`detects` (the probe's) and :meth:`of`.
    """

    name = ""
    cursor_like = False

    def __init__(
        self,
        *,
        sort: str | None = "id",
        sort_param: str = DEFAULT_SORT_PARAM,
        size_param: str = DEFAULT_SIZE_PARAM,
    ) -> None:
        self.sort, self.sort_param, self.size_param = sort, sort_param, size_param

    @classmethod
    def of(cls, paging: Paging) -> Self:
        """This style's paginator for a list that pages so (``paging``: what the probe found)."""
        return cls(sort=paging.sort, sort_param=paging.sort_param, size_param=paging.size_param)

    @staticmethod
    def detects(first: Page, linked: Mapping[str, str], moved: Mapping[str, bool]) -> bool:
        """
        Whether a list pages this way, judged from the probe's first answer (its ``next`` link's query:
        ``linked``) and whether asking ``page=2`` or an ``offset`` moved to other records (``moved``).
        """
        return False

    def _base(self, params: Mapping[str, Any], limit: int) -> dict[str, Any]:
        query = {self.sort_param: self.sort} if self.sort and self.sort_param not in params else {}
        return {**query, **params, self.size_param: limit}

    def reached(self, page: Page, seen: int) -> bool:
        """The count is of the whole query: reached once the walk has seen as many records."""
        return page.count is not None and seen >= page.count

    def past_end(self, err: AkinonApiError, query: Mapping[str, Any]) -> bool:
        """No error means the list ended, unless a style says so."""
        return False

    def pages_allowed(self, pages: int, page: Page) -> int | None:
        """The pages the list's count fills at this page's size, with slack for inserts."""
        return _pages_for(page.count, page)


class PageNumberPaginator(BasePaginator):
    """``page`` and a page size; ``next`` is read for its page number only, else ``page + 1``."""

    name = "page"
    moves = "the page parameter"

    def __init__(self, *, page_param: str = "page", **sorting: Any) -> None:
        super().__init__(**sorting)
        self.page_param = page_param

    def first(self, params: Mapping[str, Any], limit: int) -> dict[str, Any]:
        """The query of the first page: ``params``, the sort, the page size and ``page=1`` unless set."""
        query = self._base(params, limit)
        query.setdefault(self.page_param, 1)
        return query

    def following(self, query: dict[str, Any], page: Page) -> dict[str, Any] | None:
        """The query of the next page: ``next``'s page number if it moves on, else ``page + 1``."""
        if not len(page):
            return None
        linked, current = _linked(page, self.page_param), int(query[self.page_param])
        number = int(linked) if linked and linked.isdigit() and int(linked) > current else current + 1
        return {**query, self.page_param: number}

    def past_end(self, err: AkinonApiError, query: Mapping[str, Any]) -> bool:
        """True for DRF's 404 "Invalid page." past the first page: the list ended."""
        return err.status == 404 and int(query[self.page_param]) > 1 and "invalid page" in err.body.lower()

    @staticmethod
    def detects(first: Page, linked: Mapping[str, str], moved: Mapping[str, bool]) -> bool:
        """A list that ``page=2`` moved through."""
        return bool(moved.get("page"))


class LimitOffsetPaginator(BasePaginator):
    """``limit`` and ``offset`` (DRF's ``LimitOffsetPagination``); ``next`` read for its offset only."""

    name = "limit_offset"
    moves = "the offset parameter"

    def __init__(self, *, offset_param: str = "offset", **sorting: Any) -> None:
        super().__init__(**sorting)
        self.offset_param = offset_param

    @staticmethod
    def detects(first: Page, linked: Mapping[str, str], moved: Mapping[str, bool]) -> bool:
        """A list an ``offset`` moved through, whose ``next`` carries one (or that ``page`` did not move)."""
        return bool(moved.get("offset") and ("offset" in linked or not moved.get("page")))

    def first(self, params: Mapping[str, Any], limit: int) -> dict[str, Any]:
        """The query of the first page: ``params``, the sort, the page size and ``offset=0``."""
        return {**self._base(params, limit), self.offset_param: 0}

    def following(self, query: dict[str, Any], page: Page) -> dict[str, Any] | None:
        """The query of the next page: ``next``'s offset if it moves on, else past this page."""
        if not len(page):
            return None
        linked, current = _linked(page, self.offset_param), int(query[self.offset_param])
        offset = int(linked) if linked and linked.isdigit() and int(linked) > current else current + len(page)
        return {**query, self.offset_param: offset}


class CursorPaginator(BasePaginator):
    """An opaque cursor in ``next`` (DRF's ``CursorPagination``): the list's own fixed order, no count."""

    name = "cursor"
    moves = "the cursor in next"
    cursor_like = True

    def __init__(self, *, cursor_param: str = "cursor", **sorting: Any) -> None:
        sorting.setdefault("sort", None)  # the cursor's ordering is the view's own
        super().__init__(**sorting)
        self.cursor_param = cursor_param

    @classmethod
    def of(cls, paging: Paging) -> Self:
        """A cursor walk in the view's own order: only the page size is sent."""
        return cls(size_param=paging.size_param)

    @staticmethod
    def detects(first: Page, linked: Mapping[str, str], moved: Mapping[str, bool]) -> bool:
        """A ``next`` link carrying a ``cursor``, where neither ``page`` nor ``offset`` moved."""
        return bool(first.next and "cursor" in linked and not any(moved.values()))

    def first(self, params: Mapping[str, Any], limit: int) -> dict[str, Any]:
        """The query of the first page: ``params`` and the page size (the cursor's order is the view's)."""
        return self._base(params, limit)

    def following(self, query: dict[str, Any], page: Page) -> dict[str, Any] | None:
        """The query of the next page: the cursor in ``next`` (an error when it has none)."""
        if not page.next or not len(page):
            return None
        cursor = _linked(page, self.cursor_param)
        if not cursor:
            raise AkinonPageError(f"a next link without a {self.cursor_param!r} parameter: {page.next[:200]}")
        return {**query, self.cursor_param: cursor}


class KeysetPaginator(BasePaginator):
    """
    A sort on the key and a ``<lookup>__gt`` cursor after the last record of each page: unlike page
    numbers, a cursor cannot skip a record when another one leaves the list mid-walk.

    :param key: the field of each record the cursor reads (``id`` or ``pk``).
    :param lookup: the filter name of that field (``id`` for ``id__gt``).
    :param sort: the ordering that sorts by it (``id``, or ``pk`` where the serializer names it so).
    """

    moves = "the sort and the id cursor"
    cursor_like = True

    def __init__(
        self, key: str = "id", lookup: str = "id", *, sort: str | None = None, **sorting: Any
    ) -> None:
        super().__init__(sort=sort or lookup, **sorting)
        self.key = key
        self.lookup = lookup

    def first(self, params: Mapping[str, Any], limit: int) -> dict[str, Any]:
        """The query of the first page: ``params``, the sort on the key and the page size, no ``page``."""
        query = {**params, self.sort_param: self.sort, self.size_param: limit}
        query.pop("page", None)
        return query

    def following(self, query: dict[str, Any], page: Page) -> dict[str, Any] | None:
        """The query of the next page: ``<lookup>__gt`` the last key of this page."""
        if not len(page):
            return None
        following = {**query, f"{self.lookup}__gt": page.field(self.key, page.keys)[-1]}
        following.pop(f"{self.lookup}__gte", None)
        return following

    def reached(self, page: Page, seen: int) -> bool:
        """Each query counts what is left from its page on: reached when this page holds all of it."""
        return page.count is not None and len(page) >= page.count

    def pages_allowed(self, pages: int, page: Page) -> int | None:
        """The pages walked so far plus those the rest of the list fills (its count from this page on)."""
        left = _pages_for(None if page.count is None else max(0, page.count - len(page)), page)
        return None if left is None else pages + left


#: The paging styles of lists, by name, in the order the probe asks each whether a list pages its way (a
#: connection's ``pagination`` extra names one too). A new style is a class with what :class:`Paginator`
#: lists (``name``, ``moves``, ``cursor_like``, ``of``, ``detects``, ``first``, ``following``, ``reached``,
#: ``past_end``, ``pages_allowed``; ``envelope`` optional): subclassing :class:`BasePaginator` gives the defaults.
PAGINATORS: dict[str, Any] = {
    paginator.name: paginator for paginator in (CursorPaginator, LimitOffsetPaginator, PageNumberPaginator)
}


def known_envelopes() -> list[Envelope]:
    """Every envelope the probe may recognise: :data:`ENVELOPES`, then those the registered paginators declare."""
    found = {e.name: e for e in ENVELOPES.values()}
    for paginator in PAGINATORS.values():
        declared = getattr(paginator, "envelope", None)
        if isinstance(declared, Envelope):
            found.setdefault(declared.name, declared)
    return list(found.values())


def envelope_named(name: str) -> Envelope:
    """The known envelope called ``name`` (what the probe recorded)."""
    found = {envelope.name: envelope for envelope in known_envelopes()}
    if name in found:
        return found[name]
    raise AkinonConfigError(
        f"the list was probed with the envelope {name!r}, which is not registered in this process: import the "
        "module that registers it (its paginator or its ENVELOPES line) where the export runs"
    )
