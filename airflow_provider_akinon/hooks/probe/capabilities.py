"""What one endpoint was found to honour (:class:`Capabilities`), and the paginators its answers call for."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from airflow_provider_akinon.hooks.paging.decoder import PageDecoder
from airflow_provider_akinon.hooks.paging.styles import (
    PAGINATORS,
    KeysetPaginator,
    PageNumberPaginator,
    Paginator,
    envelope_named,
)

#: The probe table's answer for a list whose end cannot be known from its answers.
UNKNOWN_PAGING = (
    "UNKNOWN: no count, no next page, and neither page=2 nor an offset moves on (exports by its own paging "
    "are refused: set the connection's pagination extra)"
)


@dataclass(frozen=True)
class Capabilities:
    """
    What one endpoint did when asked, judged by the records it returned. ``None``: too few records to tell.

    :param limit: the page size asked for; ``page_size`` is what a full page held (the API's cap).
    :param size_param: the query parameter that sets the page size (``limit``, or ``page_size``).
    :param pagination: how the list pages, as the probe found it: the name of a paginator in
        :data:`~airflow_provider_akinon.hooks.paging.styles.PAGINATORS`, ``single`` (all in one page) or
        ``unknown`` (more than one page, and nothing the probe tried moved through it).
    :param sort: the value of ``sort_param`` that orders the list by its key, ascending (``id`` or
        ``pk``), or ``None`` when no ordering the probe tried is honoured.
    :param lookup: the filter name of the key (``id`` for ``id__gt``).
    :param default_order: the order without a sort: ``asc`` or ``desc`` by key, ``None`` if neither.
    :param offset: how timestamps of ``date_field`` state their zone: ``Z``, ``+03:00`` or ``naive``.
    :param rtt_ms: the fastest round trip of the probe's requests.
    :param envelope: the shape of the list's answers: the name of an
        :class:`~airflow_provider_akinon.hooks.paging.envelope.Envelope` (``drf``: ``results``, ``count``, ``next``).
    """

    endpoint: str
    date_field: str | None
    count: int | None
    limit: int
    page_size: int
    size_param: str
    pagination: str
    sort: str | None
    sort_param: str
    lookup: str
    id_gt: bool | None
    id_lt: bool | None
    date_gte: bool | None
    date_lt: bool | None
    default_order: str | None
    offset: str | None
    rtt_ms: float
    requests: int = 0
    batch_lookup: bool | None = None
    date_unit: str = "instant"
    envelope: str = "drf"

    #: the answers a connection extra set instead of the probe (``pagination``, ``sort_param``, ``size_param``)
    settings: tuple[str, ...] = ()

    def with_settings(self, settings: Mapping[str, str]) -> Capabilities:
        """These answers as the connection sets them, where the probe judged wrongly (logged as such)."""
        changed: dict[str, Any] = {
            name: value for name, value in settings.items() if getattr(self, name) != value
        }
        return replace(self, **changed, settings=tuple(settings)) if settings else self

    @property
    def capped(self) -> bool:
        """Whether the API caps the page size below the size asked for."""
        return self.page_size < self.limit

    @property
    def sort_id(self) -> bool | None:
        """Whether a sort on the key is honoured (``None``: too few records to tell)."""
        return None if self.count is not None and self.count < 2 else self.sort is not None

    @property
    def keyset(self) -> bool:
        """Keyset walks need a sort on the key and both id lookups."""
        return bool(self.sort and self.id_gt and self.id_lt)

    @property
    def date_filter_ignored(self) -> bool:
        """Whether the probe found ``date_field__gte`` or ``date_field__lt`` ignored."""
        return self.date_gte is False or self.date_lt is False

    def paginator(self) -> Paginator:
        """The paginator of a walk over this list by its own paging (not keyset); page numbers by default."""
        return PAGINATORS.get(self.pagination, PageNumberPaginator).of(self)

    def decoder(
        self, key: str, date_field: str | None = None, parent: str | None = None, *, allow_bare: bool = False
    ) -> PageDecoder:
        """The decoder of this list's pages: its envelope, its key (and date or parent field) read."""
        return PageDecoder(
            key, date_field, parent, allow_bare=allow_bare, envelope=envelope_named(self.envelope)
        )

    def keyset_paginator(self, key: str) -> KeysetPaginator:
        """The paginator of a keyset walk over this list on ``key``."""
        return KeysetPaginator(
            key, self.lookup, sort=self.sort, sort_param=self.sort_param, size_param=self.size_param
        )

    def as_dict(self) -> dict[str, Any]:
        """What the probe found, as the manifest records it (with ``sort_id``)."""
        return {**asdict(self), "sort_id": self.sort_id}

    def rows(self) -> list[tuple[str, str]]:
        """(question, answer) pairs: the probe command's table."""
        if self.pagination == "unknown":
            cap = f"{self.page_size} a page (asked {self.limit})"
        elif self.capped:
            cap = f"capped at {self.page_size} (asked {self.limit})"
        elif self.pagination == "single":
            cap = f"up to {self.limit}: the whole list fits one page"
        else:
            cap = f"{self.limit} honoured"
        sort = f"{self.sort_param}={self.sort} honoured" if self.sort else "no sort on the key honoured"
        rows = self._rows(cap, sort)
        set_by = {"size_param": 1, "pagination": 2, "sort_param": 3}
        for name in self.settings:
            question, answer = rows[set_by[name]]
            rows[set_by[name]] = (question, f"{answer} (set by the connection's {name} extra)")
        return rows

    def _rows(self, cap: str, sort: str) -> list[tuple[str, str]]:
        df = self.date_field or "date"

        def yes(flag: bool | None) -> str:
            return {True: "honoured", False: "IGNORED", None: "cannot tell (too few records)"}[flag]

        return [
            (
                "records visible",
                "not counted (its answers carry no count)" if self.count is None else f"{self.count:,}",
            ),
            (f"page size ({self.size_param})", cap),
            ("paging", UNKNOWN_PAGING if self.pagination == "unknown" else self.pagination.replace("_", "/")),
            ("sort", sort if self.sort_id is not None else "cannot tell (too few records)"),
            (
                "default order",
                {"asc": "ascending ids", "desc": "descending ids"}.get(self.default_order or "", "none"),
            ),
            (f"{self.lookup}__gt", yes(self.id_gt)),
            (f"{self.lookup}__lt", yes(self.id_lt)),
            (f"{df}__gte", yes(self.date_gte)),
            (f"{df}__lt", yes(self.date_lt) + (" (days: YYYY-MM-DD)" if self.date_unit == "day" else "")),
            (f"{df} time zone", self.offset or "cannot tell (no records)"),
            ("round trip", f"{self.rtt_ms:.0f} ms ({self.requests} requests)"),
            ("answers", self.envelope),
        ]

    def summary(self, noun: str = "records") -> str:
        """One line for logs and ``test_connection()``: ``500 orders visible; page size ...``."""
        count = "some" if self.count is None else f"{self.count:,}"
        rest = [f"{question} {answer}" for question, answer in self.rows()[1:]]
        return "; ".join([f"{count} {noun} visible", *rest])
