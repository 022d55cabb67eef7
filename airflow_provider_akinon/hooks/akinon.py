"""AkinonHook: the public face of the request core, paging, the probe and Akinon's lists."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from functools import cached_property, partial, wraps
from typing import Any

from airflow_provider_akinon.errors import AkinonApiError, AkinonConfigError
from airflow_provider_akinon.hooks import form
from airflow_provider_akinon.hooks.config import (
    DEFAULT_SORT_PARAM,
    AkinonConfig,
    RetryPolicy,
    config_from_connection,
)
from airflow_provider_akinon.hooks.connection_test import quick_test
from airflow_provider_akinon.hooks.http.core import RequestCore, RequestStats
from airflow_provider_akinon.hooks.http.rules import parse_retry_after
from airflow_provider_akinon.hooks.http_hook import HttpHookCompat
from airflow_provider_akinon.hooks.lists import ListReader
from airflow_provider_akinon.hooks.paging.records import decode_page
from airflow_provider_akinon.hooks.paging.styles import (
    CursorPaginator,
    KeysetPaginator,
    LimitOffsetPaginator,
    PageNumberPaginator,
)
from airflow_provider_akinon.hooks.probe.capabilities import Capabilities
from airflow_provider_akinon.hooks.probe.probes import Probes
from airflow_provider_akinon.hooks.probe.questions import probe_batch_lookup, probe_date_sort
from airflow_provider_akinon.resources import ORDERS

__all__ = [
    "AkinonApiError",
    "AkinonConfigError",
    "AkinonHook",
    "Capabilities",
    "CursorPaginator",
    "KeysetPaginator",
    "LimitOffsetPaginator",
    "PageNumberPaginator",
    "RetryPolicy",
    "parse_retry_after",
]


def _on_lists(method: Callable[..., Any]) -> Callable[..., Any]:
    """``method`` of :class:`ListReader`, offered on the hook: called on the hook's :attr:`AkinonHook.lists`."""

    @wraps(method)
    def forwarded(self: AkinonHook, *args: Any, **kwargs: Any) -> Any:
        return method(self.lists, *args, **kwargs)

    return forwarded


class AkinonHook(HttpHookCompat):
    """
    Interact with Akinon's Omnitron and OMS REST APIs.

    The ``akinon`` connection: host is the tenant base URL (``https://acme.omnitron.akinon.net``); login and
    password are exchanged for a token at ``{api_prefix}auth/login/``; a password with no login is used as
    a ready API token. Extras: ``api_prefix`` (``api/v1/``), ``page_size`` (100), ``timeout`` (60),
    ``connect_timeout`` (10), ``max_retries`` (6), ``timezone`` of naive timestamps (``UTC``), ``verify``
    (true), and for tuning ``backoff``, ``max_wait``, ``retry_deadline``.

    Every request (``get``, ``aget``, paging, ``HttpHook.run`` and so a synchronous ``HttpOperator``) goes through one
    request core: retries on 429/5xx/resets/timeouts with ``Retry-After``, a new login after a 401, and
    the token only ever sent to the connection's own scheme and host, masked in logs.

    :param akinon_conn_id: the :ref:`akinon connection <howto/connection:akinon>` to use.
    :param page_size: records per page asked for; overrides the connection's ``page_size``.
    :param max_retries: overrides the connection's ``max_retries``.
    """

    conn_name_attr = "akinon_conn_id"
    default_conn_name = "akinon_default"
    conn_type = "akinon"
    hook_name = "Akinon"

    def __init__(
        self,
        akinon_conn_id: str = default_conn_name,
        *,
        page_size: int | None = None,
        max_retries: int | None = None,
        method: str = "GET",
        http_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        # ``http_conn_id`` is accepted so HttpOperator can build this hook for an akinon connection.
        conn_id = http_conn_id or akinon_conn_id
        super().__init__(method=method, http_conn_id=conn_id, **kwargs)
        self.akinon_conn_id = conn_id
        self._page_size_override = page_size
        self._max_retries_override = max_retries
        #: Replaceable in tests so waits are recorded instead of slept.
        self.sleep = time.sleep

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Connection form widgets for Airflow versions before the declarative ``conn-fields``."""
        return form.connection_form_widgets()

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Hidden fields, labels and placeholders for Airflow versions before the declarative form."""
        return form.ui_field_behaviour()

    # ------------------------------------------------------------------ configuration and core
    @cached_property
    def config(self) -> AkinonConfig:
        """The connection, read and validated once: clear errors before any request is sent."""
        return config_from_connection(
            self.get_connection(self.akinon_conn_id),
            self.akinon_conn_id,
            page_size=self._page_size_override,
            max_retries=self._max_retries_override,
        )

    @cached_property
    def core(self) -> RequestCore:
        """The request core of this hook: one keep-alive pool and one token, shared by threads."""
        return RequestCore(self.config, log=self.log, sleep=lambda seconds: self.sleep(seconds))

    @cached_property
    def lists(self) -> ListReader:
        """The lists of the tenant, read through :attr:`core`; its methods are offered on the hook too."""
        return ListReader(self.core, self.config)

    get_page = _on_lists(ListReader.get_page)
    head = _on_lists(ListReader.head)
    pages = _on_lists(ListReader.pages)
    iter_pages = _on_lists(ListReader.iter_pages)
    paginate = _on_lists(ListReader.paginate)
    get_order_by_number = _on_lists(ListReader.get_order_by_number)
    iter_orders = _on_lists(ListReader.iter_orders)
    iter_order_items = _on_lists(ListReader.iter_order_items)
    iter_discount_items = _on_lists(ListReader.iter_discount_items)
    iter_oms_order_items = _on_lists(ListReader.iter_oms_order_items)

    @property
    def session(self):
        """The hook's keep-alive transport (``.headers`` are the headers every request sends)."""
        return self.core.transport

    @property
    def stats(self) -> RequestStats:
        """The request counters of this hook: requests, retries, seconds waited."""
        return self.core.stats

    @property
    def host(self) -> str:
        """The scheme and host the token may be sent to."""
        return self.config.base_url

    def url_for(self, endpoint: str) -> str:
        """Build the URL of ``endpoint``: relative to ``api_prefix``, or absolute from the host root."""
        return self.core.url_for(endpoint)

    def get_token(self) -> str:
        """The API token, logging in first when needed."""
        return self.core.auth.token()

    # ------------------------------------------------------------------ requests
    def request(
        self, method: str, endpoint: str, *, params: Mapping[str, Any] | None = None, json: Any = None
    ) -> Any:
        """Send one request to ``endpoint`` with login, retries and re-login; return the parsed JSON."""
        return self.core.call(method, self.url_for(endpoint), query=params, json=json)

    def get(self, endpoint: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET ``endpoint`` (relative to ``api_prefix``, or absolute from the host root) as parsed JSON."""
        return self.core.call("GET", self.url_for(endpoint), query=params)

    async def ahead(
        self, endpoint: str, params: Mapping[str, Any] | None = None, *, key: str | None = None
    ) -> tuple[int | None, dict[str, Any] | None]:
        """The async face of :meth:`head`, for triggers."""
        size_param = await asyncio.to_thread(lambda: self.config.size_param)  # reads the connection
        page = await self.aget(
            endpoint, {**(params or {}), size_param: 1}, decode=partial(decode_page, key=key)
        )
        return page.count, (page.parsed[0] if page.parsed else None)

    async def aget(
        self,
        endpoint: str,
        params: Mapping[str, Any] | None = None,
        *,
        decode: bool | Callable[[bytes], Any] = True,
    ) -> Any:
        """Async GET for triggers: the rules of :meth:`get`; the event loop never blocks."""
        core = await asyncio.to_thread(lambda: self.core)  # reads the connection off the event loop
        return await core.acall("GET", core.url_for(endpoint), query=params, decode=decode)

    # ------------------------------------------------------------------ what the API honours
    def probe(
        self,
        endpoint: str = ORDERS.endpoint,
        *,
        date_field: str | None = "created_date",
        params: Mapping[str, Any] | None = None,
        key: str = "id",
        lookup: str | None = None,
        bare: bool = False,
    ) -> Capabilities:
        """
        Find what ``endpoint`` honours (page size, paging style, envelope, sort, key and date lookups,
        offsets), judged by the records it returns; cached per hook. ``key``: the field that keys its
        records; ``lookup``: that field's filter name (``<lookup>__gt``; ``key`` where not given);
        ``bare``: the list answers a plain array.
        """
        return self.probes.of(
            endpoint, date_field=date_field, params=params, key=key, lookup=lookup, bare=bare
        )

    @cached_property
    def probes(self) -> Probes:
        """The probes of this hook: each question asked once, its answers kept a day where the connection
        says (``probe_cache``)."""
        return Probes(self.config, self.get_page, self.log)

    def forget_kept_probes(self) -> bool:
        """Forget the kept answers this hook used (a walk found the list no longer answers so); whether there
        were any (the export is then planned again on a fresh probe)."""
        return self.probes.forget_kept()

    def probe_date_sort(
        self,
        endpoint: str,
        date_field: str,
        params: Mapping[str, Any] | None = None,
        *,
        sort_param: str = DEFAULT_SORT_PARAM,
        size_param: str | None = None,
    ) -> bool:
        """Does the list sort by ``date_field`` (newest first, and oldest first)? (Asked for lists that
        ignore their date filter: a newest-first walk then finds a window exactly.)"""
        decode = partial(decode_page, key=None)
        return probe_date_sort(
            partial(self.get_page, endpoint, decoder=decode),
            params or {},
            date_field,
            sort_param=sort_param,
            size_param=size_param or self.config.size_param,
            zone=self.config.timezone,
        )

    def probe_batch_lookup(
        self, endpoint: str, parent_param: str, parents: list[int], parent_field: str | None = None
    ) -> bool:
        """Does ``endpoint`` honour ``{parent_param}__in`` (the children of many orders in one request)?
        Judged by each record's ``parent_field`` (``parent_param`` where not given)."""
        return probe_batch_lookup(
            self.get_page, endpoint, parent_param, parents, parent_field, size_param=self.config.size_param
        )

    def test_connection(self) -> tuple[bool, str]:
        """
        Log in and probe the orders list, with no retries, at most 10 s per step and 15 s in all, whatever
        the server does: ``(ok, one line)``.

        What the UI's Test button and ``POST /api/v2/connections/test`` call.
        """
        try:
            cfg = self.config
        except AkinonConfigError as err:
            return False, str(err)
        return quick_test(cfg, log=self.log, sleep=self.sleep)
