"""The pages of any list of one tenant, one page in memory at a time, and Akinon's lists: :class:`ListReader`,
which :class:`~airflow_provider_akinon.hooks.akinon.AkinonHook` holds and offers."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from functools import partial
from typing import Any

from airflow_provider_akinon.errors import AkinonApiError, AkinonConfigError
from airflow_provider_akinon.hooks.config import DEFAULT_PAGE_SIZE, AkinonConfig
from airflow_provider_akinon.hooks.http.core import RequestCore
from airflow_provider_akinon.hooks.paging.records import Page, decode_page
from airflow_provider_akinon.hooks.paging.styles import PageNumberPaginator, Paginator, known_envelopes
from airflow_provider_akinon.hooks.paging.walker import PageStream
from airflow_provider_akinon.resources import DISCOUNT_ITEMS, OMS_ORDER_ITEMS, ORDER_ITEMS, ORDERS


class ListReader:
    """
    Read the lists of one tenant through its request core.

    :param core: the request core (login, retries, the token's host) every page is asked through.
    :param config: the validated connection (its page size, and the page-size parameter before a probe).
    """

    def __init__(self, core: RequestCore, config: AkinonConfig) -> None:
        self.core = core
        self.config = config

    def get_page(
        self,
        endpoint: str,
        params: Mapping[str, Any] | None = None,
        decoder: Callable[[bytes], Page] | None = None,
    ) -> Page:
        """
        One page of a list, checked (a 200 that is not a page is retried like a 5xx, then an error); with
        a :class:`~airflow_provider_akinon.hooks.paging.records.PageDecoder` its records stay raw bytes.
        """
        decode = decoder or partial(decode_page, envelopes=known_envelopes())
        return self.core.call("GET", self.core.url_for(endpoint), query=params, decode=decode)

    def head(
        self,
        endpoint: str,
        params: Mapping[str, Any] | None = None,
        *,
        key: str | None = None,
        bare: bool = False,
    ) -> tuple[int | None, dict[str, Any] | None]:
        """
        The ``count`` of a list query (``None`` where its paging has none), and its first record (``None``
        when empty): one small request. An answer that is not a page is an error, never an empty list.
        """
        decode = partial(decode_page, key=key, allow_bare=bare, envelopes=known_envelopes())
        page = self.get_page(endpoint, {**(params or {}), self.config.size_param: 1}, decode)
        return page.count, (page.parsed[0] if page.parsed else None)

    def pages(
        self,
        endpoint: str,
        params: Mapping[str, Any] | None = None,
        *,
        page_size: int | None = None,
        paginator: Paginator | None = None,
        decoder: Callable[[bytes], Page] | None = None,
    ) -> PageStream:
        """
        Yield the :class:`~airflow_provider_akinon.hooks.paging.records.Page` objects of a list, one at a time; the
        stream's ``end`` then says how the end was known (the count, the paging's marker, an empty page).

        Default paging: ``page`` and ``limit`` and ``sort=id`` unless ``params`` sorts; ``next`` is followed
        by its page number only (never its host); the walk ends on ``next: null``, the count reached, an empty
        page or a 404 "Invalid page.", never on a short page. Pass ``paginator=KeysetPaginator()`` for an ``id__gt`` cursor walk,
        ``LimitOffsetPaginator()`` or ``CursorPaginator()`` for lists that page so (the probe tells).
        """
        return PageStream(
            lambda e, q: self.get_page(e, q, decoder),
            endpoint,
            params or {},
            paginator or PageNumberPaginator(),
            self._page_size(page_size),
        )

    def iter_pages(
        self,
        endpoint: str,
        params: Mapping[str, Any] | None = None,
        *,
        page_size: int | None = None,
        paginator: Paginator | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Yield the envelopes (``count``, ``next``, ``results``) of a list, one page at a time (see :meth:`pages`)."""
        for page in self.pages(endpoint, params, page_size=page_size, paginator=paginator):
            yield page.envelope_dict()

    def paginate(
        self, endpoint: str, params: Mapping[str, Any] | None = None, *, page_size: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Yield the records of a list lazily across pages; memory holds one page at a time."""
        for page in self.pages(endpoint, params, page_size=page_size):
            yield from page.parsed

    def _page_size(self, page_size: int | None) -> int:
        if page_size is None:
            return self.config.page_size or DEFAULT_PAGE_SIZE
        if not isinstance(page_size, int) or page_size < 1:
            raise AkinonConfigError(f"page_size must be a positive integer, got {page_size!r}.")
        return page_size

    # ------------------------------------------------------------------ Akinon's lists
    def get_order_by_number(self, number: str) -> dict[str, Any]:
        """Return the order with this ``number``; raise if there is none."""
        results = self.get_page(ORDERS.endpoint, {"number": number, self.config.size_param: 1}).parsed
        if not results or str(results[0].get("number")) != str(number):
            raise AkinonApiError(f"No order with number {number!r} at {self.config.base_url}.", status=404)
        return results[0]

    def iter_orders(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """Yield orders matching ``filters`` (``status``, ``created_date__gte``, ...), sorted by id."""
        return self.paginate(ORDERS.endpoint, filters)

    def iter_order_items(self, order_id: int) -> Iterator[dict[str, Any]]:
        """Yield the detailed order items of one order."""
        return self.paginate(ORDER_ITEMS.endpoint, {"order": order_id})

    def iter_discount_items(self, order_id: int) -> Iterator[dict[str, Any]]:
        """Yield the discount items of one order."""
        return self.paginate(DISCOUNT_ITEMS.endpoint, {"order": order_id})

    def iter_oms_order_items(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """Yield OMS order items (use a hook on the OMS connection: OMS lives on its own host)."""
        return self.paginate(OMS_ORDER_ITEMS.endpoint, filters)
