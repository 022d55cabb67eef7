"""The one loop that walks a list with any paginator, one page in memory at a time, trusting nothing for ever.

A walk ends only on evidence that the list ended, recorded as :attr:`PageStream.end`: the count reached
(``count``), the paging style's own end marker (``marker``: ``next: null``, no next link where the pages
before had one, a 404 "Invalid page." past the last page, or an unpaged list's whole array), or an empty
page (``empty page``). A page shorter than asked for is no evidence: a tenant may cap the page size
silently, so the walk asks for the page after it. Where the answer gives none of this and the style cannot
ask further, the walk fails before anything is published, naming what the tenant lacks.

A page larger than asked for, a page that repeats the one before, or more pages than the list's count can
fill each end the walk with an error that names what the server did.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from airflow_provider_akinon.errors import AkinonApiError, AkinonPageError
from airflow_provider_akinon.hooks.paging.records import Page
from airflow_provider_akinon.hooks.paging.styles import PAGINATORS, Paginator

#: How a walk knew its list ended (the manifest's ``end``).
COUNT, MARKER, EMPTY = "count", "marker", "empty page"


def _fingerprint(page: Page) -> tuple[Any, ...]:
    """What tells two pages apart cheaply: their size and first and last records."""
    if page.raw is not None:
        return (len(page), bytes(page.raw[0]), bytes(page.raw[-1]))
    return (len(page), repr(page.parsed[0]), repr(page.parsed[-1]))


def _reached(paginator: Paginator, page: Page, seen: int) -> bool:
    """The paginator's count rule (a plug-in without one: the count is of the whole query)."""
    rule = getattr(paginator, "reached", None)
    if rule is not None:
        return bool(rule(page, seen))
    return page.count is not None and seen >= page.count


class PageStream:
    """
    The pages of ``endpoint``, one at a time, as ``paginator`` walks it with ``get_page``; once the walk
    ended, :attr:`end` says how its end was known (``None`` while it runs, or when the caller stopped it).
    """

    def __init__(
        self,
        get_page: Callable[[str, Mapping[str, Any]], Page],
        endpoint: str,
        params: Mapping[str, Any],
        paginator: Paginator,
        limit: int,
    ) -> None:
        self.get_page, self.endpoint, self.params = get_page, endpoint, params
        self.paginator, self.limit = paginator, limit
        self.end: str | None = None
        self._pages = self._walk()

    def __iter__(self) -> Iterator[Page]:
        return self._pages

    def __next__(self) -> Page:
        return next(self._pages)

    def _walk(self) -> Iterator[Page]:
        endpoint, paginator, limit = self.endpoint, self.paginator, self.limit
        query: dict[str, Any] = paginator.first(self.params, limit)
        pages = seen = allowed = 0
        previous, linked = None, False
        while True:
            try:
                page = self.get_page(endpoint, query)
            except AkinonApiError as err:
                if paginator.past_end(err, query):
                    self.end = MARKER
                    return
                raise
            pages += 1
            seen += len(page)
            self._check(page, pages, previous)
            previous = _fingerprint(page) if len(page) else None
            bound = paginator.pages_allowed(pages, page)
            allowed = max(allowed, bound) if bound is not None else allowed
            yield page
            if not len(page):
                self.end = EMPTY
                return
            if page.bare or (page.next is None and (page.says_next or linked)):
                self.end = MARKER
                return
            linked = linked or page.next is not None
            if page.next is None and _reached(paginator, page, seen):
                self.end = COUNT
                return
            following = paginator.following(query, page)
            if following is None:
                raise AkinonPageError(self._unended(page))
            if bound is not None and pages >= allowed:
                raise AkinonPageError(
                    f"{endpoint} still links a next page after {pages} pages of about {len(page)} records, "
                    f"though its count ({page.count}) fits in fewer: it ignores {paginator.moves}. Nothing "
                    "was published."
                )
            query = following

    def _check(self, page: Page, pages: int, previous: tuple[Any, ...] | None) -> None:
        """Refuse a page larger than asked for, or one repeating the page before."""
        if len(page) > self.limit and not page.bare:  # a plain array is the whole list, asked or not
            raise AkinonPageError(
                f"{self.endpoint} answered {len(page)} records to a request for {self.limit}: it ignores the "
                "page size asked for. Set page_size (on the connection or the operator) to at least its own "
                "page size, or leave it unset so the probe finds it."
            )
        if len(page) and _fingerprint(page) == previous:
            raise AkinonPageError(
                f"{self.endpoint} answered page {pages} with the same records as page {pages - 1}: it ignores "
                f"{self.paginator.moves}, so the walk would never end. See what the list honours with "
                "python -m airflow_provider_akinon.probe."
            )

    def _unended(self, page: Page) -> str:
        """Why the walk cannot go on, yet has no evidence the list ended."""
        return (
            f"{self.endpoint} answered a page of {len(page)} records (asked {self.limit}) with neither a count "
            f"nor a next page ({page.envelope.describe()} and nothing else), and {self.paginator.moves} cannot "
            "ask for the page after it: whether the list goes on is not in the answer, so it is not exported "
            f"short. Set the connection's pagination extra to how it pages ({', '.join(PAGINATORS)}), or "
            "register a paginator that reads it. Nothing was published."
        )


def iter_pages(
    get_page: Callable[[str, Mapping[str, Any]], Page],
    endpoint: str,
    params: Mapping[str, Any],
    paginator: Paginator,
    limit: int,
) -> PageStream:
    """Yield the pages of ``endpoint`` one at a time, as ``paginator`` walks it with ``get_page``."""
    return PageStream(get_page, endpoint, params, paginator, limit)
