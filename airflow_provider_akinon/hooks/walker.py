"""The one loop that walks a list with any paginator, one page in memory at a time, trusting nothing for ever.

A page larger than asked for, a page that repeats the one before, more pages than the list's count can
fill, or a full page that says neither how many records there are nor where the next page is: each ends
the walk with an error that names what the server did, before anything is published.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from airflow_provider_akinon.errors import AkinonApiError, AkinonPageError
from airflow_provider_akinon.hooks.paging import PAGINATORS, Paginator
from airflow_provider_akinon.hooks.records import Page


def _fingerprint(page: Page) -> tuple[Any, ...]:
    """What tells two pages apart cheaply: their size and first and last records."""
    if page.raw is not None:
        return (len(page), bytes(page.raw[0]), bytes(page.raw[-1]))
    return (len(page), repr(page.parsed[0]), repr(page.parsed[-1]))


def _ends_unseen(page: Page, paginator: Paginator, limit: int) -> bool:
    """
    A walk ends on a full page whose answer has no count and no ``next`` field at all (not even ``null``):
    more may follow, in a way this paginator does not read.
    """
    return not page.tells_end(limit) and not paginator.cursor_like


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
        if query is None and _ends_unseen(page, paginator, limit):
            raise AkinonPageError(
                f"{endpoint} answered a full page of {len(page)} records with neither a count nor a next link, "
                "so whether the list goes on is not in the answer. Set the connection's pagination extra to how "
                f"it pages ({', '.join(PAGINATORS)}), or register a paginator that reads it. Nothing was published."
            )
        if query is not None and bound is not None and pages >= allowed:
            raise AkinonPageError(
                f"{endpoint} still links a next page after {pages} pages of about {len(page)} records, though "
                f"its count ({page.count}) fits in fewer: it ignores {paginator.moves}. Nothing was published."
            )
