"""Paging strategies behind one small interface, and the one loop that walks a list with any of them.

A paginator says what the first query is and what the next one is after a page; :func:`iter_pages`
sends them, one page in memory at a time. Paginators trust the server's answers, not the request: a walk
ends on ``next: null`` or an empty page, never because a page is shorter than asked (a tenant may cap
the page size silently). And the loop trusts nothing for ever: a page larger than asked for, a page that
repeats the one before, or more pages than the list's count can fill end the walk with an error that
names what the server did.

The styles of Django REST Framework, which Akinon runs on: page numbers (``page`` + a size parameter),
limit/offset, opaque cursors in ``next``; and keyset walks (a sort on the key and a ``__gt`` cursor).
``next`` is followed by its paging parameter only, never its host: the token stays on the
connection's host.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from airflow_provider_akinon.errors import AkinonApiError, AkinonPageError
from airflow_provider_akinon.hooks.records import Page

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
    """One paging style: the first query, the query after a page, and how far a walk may go."""

    #: what moves the walk, for messages ("the page parameter")
    moves: str

    def first(self, params: Mapping[str, Any], limit: int) -> dict[str, Any]:
        """The query of the first page."""

    def following(self, query: dict[str, Any], page: Page) -> dict[str, Any] | None:
        """The query of the page after ``page`` (fetched with ``query``); ``None`` at the end."""

    def past_end(self, err: AkinonApiError, query: Mapping[str, Any]) -> bool:
        """True when ``err`` only means the list ended (a 404 "Invalid page." past the last page)."""

    def pages_allowed(self, pages: int, page: Page) -> int | None:
        """The most pages the walk may take, judged after its ``pages``-th page (``None``: no bound)."""


class _Sorted:
    """The sort every style sends unless the caller's params sort: ``{sort_param}={sort}``."""

    def __init__(
        self, *, sort: str | None = "id", sort_param: str = "sort", size_param: str = "limit"
    ) -> None:
        self.sort, self.sort_param, self.size_param = sort, sort_param, size_param

    def _base(self, params: Mapping[str, Any], limit: int) -> dict[str, Any]:
        query = {self.sort_param: self.sort} if self.sort and self.sort_param not in params else {}
        return {**query, **params, self.size_param: limit}

    def past_end(self, err: AkinonApiError, query: Mapping[str, Any]) -> bool:
        return False

    def pages_allowed(self, pages: int, page: Page) -> int | None:
        return _pages_for(page.count, page)


class PageNumberPaginator(_Sorted):
    """``page`` and a page size; ``next`` is read for its page number only, else ``page + 1``."""

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
        if not page.next or not len(page):
            return None
        linked, current = _linked(page, self.page_param), int(query[self.page_param])
        number = int(linked) if linked and linked.isdigit() and int(linked) > current else current + 1
        return {**query, self.page_param: number}

    def past_end(self, err: AkinonApiError, query: Mapping[str, Any]) -> bool:
        """True for DRF's 404 "Invalid page." past the first page: the list ended."""
        return err.status == 404 and int(query[self.page_param]) > 1 and "invalid page" in err.body.lower()


class LimitOffsetPaginator(_Sorted):
    """``limit`` and ``offset`` (DRF's ``LimitOffsetPagination``); ``next`` read for its offset only."""

    moves = "the offset parameter"

    def __init__(self, *, offset_param: str = "offset", **sorting: Any) -> None:
        super().__init__(**sorting)
        self.offset_param = offset_param

    def first(self, params: Mapping[str, Any], limit: int) -> dict[str, Any]:
        """The query of the first page: ``params``, the sort, the page size and ``offset=0``."""
        return {**self._base(params, limit), self.offset_param: 0}

    def following(self, query: dict[str, Any], page: Page) -> dict[str, Any] | None:
        """The query of the next page: ``next``'s offset if it moves on, else past this page."""
        if not page.next or not len(page):
            return None
        linked, current = _linked(page, self.offset_param), int(query[self.offset_param])
        offset = int(linked) if linked and linked.isdigit() and int(linked) > current else current + len(page)
        return {**query, self.offset_param: offset}


class CursorPaginator(_Sorted):
    """An opaque cursor in ``next`` (DRF's ``CursorPagination``): the list's own fixed order, no count."""

    moves = "the cursor in next"

    def __init__(self, *, cursor_param: str = "cursor", **sorting: Any) -> None:
        sorting.setdefault("sort", None)  # the cursor's ordering is the view's own
        super().__init__(**sorting)
        self.cursor_param = cursor_param

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


class KeysetPaginator(_Sorted):
    """
    A sort on the key and a ``<lookup>__gt`` cursor after the last record of each page: unlike page
    numbers, a cursor cannot skip a record when another one leaves the list mid-walk.

    :param key: the field of each record the cursor reads (``id`` or ``pk``).
    :param lookup: the filter name of that field (``id`` for ``id__gt``).
    :param sort: the ordering that sorts by it (``id``, or ``pk`` where the serializer names it so).
    """

    moves = "the sort and the id cursor"

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
        if not len(page) or not page.next:
            return None
        following = {**query, f"{self.lookup}__gt": page.field(self.key, page.keys)[-1]}
        following.pop(f"{self.lookup}__gte", None)
        return following

    def pages_allowed(self, pages: int, page: Page) -> int | None:
        """The pages walked so far plus those the rest of the list fills (its count from this page on)."""
        # the count of a cursor query is what is left from this page on
        left = _pages_for(None if page.count is None else max(0, page.count - len(page)), page)
        return None if left is None else pages + left


def _fingerprint(page: Page) -> tuple[Any, ...]:
    """What tells two pages apart cheaply: their size and first and last records."""
    if page.raw is not None:
        return (len(page), bytes(page.raw[0]), bytes(page.raw[-1]))
    return (len(page), repr(page.parsed[0]), repr(page.parsed[-1]))


def iter_pages(
    get_page: Callable[[str, Mapping[str, Any]], Page],
    endpoint: str,
    params: Mapping[str, Any],
    paginator: Paginator,
    limit: int,
) -> Iterator[Page]:
    """Yield the pages of ``endpoint`` one at a time, as ``paginator`` walks it with ``get_page``."""
    query: dict[str, Any] | None = paginator.first(params, limit)
    pages, allowed, previous = 0, 0, None
    while query is not None:
        try:
            page = get_page(endpoint, query)
        except AkinonApiError as err:
            if paginator.past_end(err, query):
                return
            raise
        pages += 1
        if len(page) > limit and not page.bare:  # a plain array is the whole list, asked or not
            raise AkinonPageError(
                f"{endpoint} answered {len(page)} records to a request for {limit}: it ignores the page size "
                "asked for. Set page_size (on the connection or the operator) to at least its own page size, "
                "or leave it unset so the probe finds it."
            )
        mark = _fingerprint(page) if len(page) else None
        if mark is not None and mark == previous:
            raise AkinonPageError(
                f"{endpoint} answered page {pages} with the same records as page {pages - 1}: it ignores "
                f"{paginator.moves}, so the walk would never end. See what the list honours with "
                "python -m airflow_provider_akinon.probe."
            )
        previous = mark
        bound = paginator.pages_allowed(pages, page)
        allowed = max(allowed, bound) if bound is not None else allowed
        yield page
        query = paginator.following(query, page)
        if query is not None and bound is not None and pages >= allowed:
            raise AkinonPageError(
                f"{endpoint} still links a next page after {pages} pages of about {len(page)} records, though "
                f"its count ({page.count}) fits in fewer: it ignores {paginator.moves}. Nothing was published."
            )
