"""Switches of the fake Akinon: API variants a real tenant may show, transient faults, and what it saw.

Our fake server is not Akinon: most of Akinon's paging and filter behaviour is inferred (Django REST
Framework defaults), so every inferred behaviour has a switch here that makes the API behave the other way.
Timestamp styles (``Z``, ``+03:00``, naive local time) are a property of the data:
:meth:`~airflow_provider_akinon.testing.data.AkinonData.set_timestamps`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class ApiVariant:
    """
    How the tenant's lists behave; change it at any time.

    :param max_limit: DRF's ``max_page_size``: a larger ``limit`` is capped silently (``next`` stays set).
    :param ignore_params: query parameters dropped silently, as django-filter does with lookups a
        filterset does not declare: ``{"sort"}``, ``{"id__gt", "id__gte", "id__lt"}``, ``{"order__in"}``,
        ``{"created_date__gte", "created_date__lt"}``.
    :param default_sort: the order of a list when ``sort`` is absent or ignored.
    :param list_children: order items and discount items can be listed without an ``order`` filter, and
        filtered on their own dates (Akinon's documented endpoints need ``order``).
    :param pagination: how lists page, as Django REST Framework's paginations do: ``page`` (page numbers,
        ``PageNumberPagination``), ``limit_offset`` (``LimitOffsetPagination``: ``page`` is ignored,
        ``next`` carries ``offset``), ``cursor`` (``CursorPagination``: an opaque ``cursor`` in ``next``, a
        fixed ascending order, no ``count``), ``link`` (that cursor, its link in a ``Link`` header and the
        body only ``results``: a style no paginator of the provider knows, for plug-in tests), or ``none``
        (no paging: the whole list as a bare JSON array).
    :param sort_param: the ordering parameter (Akinon documents ``sort``; DRF's stock name is ``ordering``).
    :param size_param: the parameter that sets the page size (``limit``; DRF's ``page_size_query_param`` may be
        ``page_size``), for page numbers and cursors (``LimitOffsetPagination`` always takes ``limit``).
    :param page_size: the page size when the client names none (DRF's ``PAGE_SIZE``; Akinon documents 10).
    :param fixed_page: answer this many records a page whatever the client asks (a page far larger than
        asked for, when it exceeds the ``limit`` sent).
    :param count_offset: add this to every ``count`` (a count that lies about the records its pages hold).
    :param refuse_unknown_orders: the children's ``order`` filter is django-filter's ``ModelChoiceFilter`` (its
        default for a foreign key): an order the tenant does not have (deleted) is refused with 400
        ``{"order__in": ["Select a valid choice. ..."]}``; otherwise an unknown order has no children.
    :param date_only: date filters take days (``YYYY-MM-DD``), as Akinon's Data Warehouse API documents:
        a date and time is refused with 400 (django-filter's ``DateFilter``).
    :param envelope: where an answer keeps its records: ``drf`` (``results``), ``items``, or ``array`` (a
        top-level array: its count and next page, if any, only in headers).
    :param count_in: where the list's count is: ``body`` (``count``), ``header`` (``X-Total-Count``) or
        ``none``; ``None``: as the pagination gives it (none for cursors).
    :param next_in: how the next page is given: ``body`` (a ``next`` link, ``null`` on the last page),
        ``header`` (a ``Link: <...>; rel="next"`` header, absent on the last page), ``token`` (a
        ``next_page_token`` in the body, ``null`` on the last page, sent back as ``page_token``) or
        ``none``; ``None``: as the pagination gives it (a header for ``link``).
    :param past_end: a page number past the last page answers ``404`` (DRF's "Invalid page.") or
        ``empty`` (an empty page).
    :param trailing_empty: a full last page still links a next one, which is empty.
    """

    max_limit: int = 1000
    ignore_params: frozenset[str] = frozenset()
    default_sort: str = "-id"
    list_children: bool = False
    pagination: str = "page"
    sort_param: str = "sort"
    size_param: str = "limit"
    page_size: int = 10
    fixed_page: int | None = None
    count_offset: int = 0
    refuse_unknown_orders: bool = False
    date_only: bool = False
    envelope: str = "drf"
    count_in: str | None = None
    next_in: str | None = None
    past_end: str = "404"
    trailing_empty: bool = False


class FilterError(ValueError):
    """A filter value refused as django-filter refuses it: 400 with ``{field: [message]}``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


@dataclass
class Faults:
    """
    Fault switches; change them at any time, from any thread. ``*_every=N`` hits every N-th data request.

    :param latency: seconds added to every data request (``latency_jitter`` adds up to that much more).
    :param throttle_every: answer 429 with ``Retry-After: retry_after`` and DRF's throttle body.
    :param error_every: answer 500/502/503/504 with an HTML body; ``error_rate`` does it at random.
    :param reset_every: close the connection without answering (connection reset).
    :param stall_every: hold the answer ``stall_seconds`` (client read timeouts).
    :param foreign_next: a ``host:port`` that ``next`` links name instead of the server's own.
    :param bad_json_every: answer 200 with a truncated JSON body.
    :param revoke_every: revoke every issued login token before answering (401 until a new login).
    :param login_errors: the next N logins answer 503 (a login that needs a retry).
    :param not_a_page_every: answer 200 with ``not_a_page_body`` (a tenant in maintenance, a proxy page).
    :param mutate_every: every N-th page request of a walk in progress (``page > 1`` or an ``id__gt``
        cursor) first inserts an order (created at a random moment of the data) and updates another
        (``modified_date`` "now", past the data), until ``mutations`` run out.
    :param churn_every: every N-th data request first inserts an order created "now" (the end of the
        data) and updates another one's ``modified_date`` to "now", as a busy shop does between any two
        requests.
    :param rng: the random source of ``latency_jitter``, ``error_rate`` and the mutations (seeded).
    :param drip_every: send the body of every N-th data answer ``drip_seconds`` apart, byte by byte.
    :param echo_login: login answers quote the password sent (plainly and JSON-escaped).
    :param bad_token: logins answer a token holding ``\r\n``.
    """

    latency: float = 0.0
    latency_jitter: float = 0.0
    throttle_every: int = 0
    retry_after: str = "1"
    error_every: int = 0
    error_rate: float = 0.0
    reset_every: int = 0
    stall_every: int = 0
    stall_seconds: float = 2.0
    foreign_next: str | None = None
    bad_json_every: int = 0
    revoke_every: int = 0
    login_errors: int = 0
    not_a_page_every: int = 0
    not_a_page_body: bytes = b'{"detail": "Service is under maintenance, please try later."}'
    mutate_every: int = 0
    mutations: int = 1_000_000
    churn_every: int = 0
    rng: random.Random = field(default_factory=lambda: random.Random(7), repr=False)
    drip_every: int = 0
    drip_seconds: float = 1.0
    echo_login: bool = False
    bad_token: bool = False

    def every(self, n: int, count: int) -> bool:
        """Whether the ``count``-th request is hit by a fault set to every ``n``-th (``0``: never)."""
        return n > 0 and count % n == 0


@dataclass
class Log:
    """What the server saw: requests by path, Authorization headers by host, logins, mutations."""

    requests: int = 0
    logins: int = 0
    auth_headers: list[str] = field(default_factory=list)
    user_agents: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    inserted: list[int] = field(default_factory=list)
    modified: list[int] = field(default_factory=list)
    faults: dict[str, int] = field(default_factory=dict)
