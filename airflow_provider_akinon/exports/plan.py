"""What one export will do, decided once before any record is read: an immutable :class:`Plan`.

The operator says what it wants (:class:`Ask`: a resource, the source of its records, filters, paging);
:func:`plan_export` asks the API what it honours (the probe) and decides the walk, the page size and
the rule that makes the walk exact. Nothing downstream decides again: the export runs the plan's walk
(:mod:`~airflow_provider_akinon.exports.walks`) into the plan's format.

Sources of records: a date window (:class:`WindowSource`, cut into sub-windows by ``window_step``), an
id range (:class:`IdRange`), explicit parent ids (:class:`ParentIds`), an upstream export of parents
(:class:`Upstream`), or the parents another plan walks (:class:`ParentsOf`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any

from airflow_provider_akinon.errors import AkinonApiError, ExportConsistencyError, WindowError
from airflow_provider_akinon.exports.settle import CHANGES_FEED, GROWING, STRICT, Rule
from airflow_provider_akinon.exports.sources import (
    IdRange,
    ParentIds,
    ParentsOf,
    Source,
    Upstream,
    WindowSource,
)
from airflow_provider_akinon.hooks.akinon import AkinonHook
from airflow_provider_akinon.hooks.capabilities import Capabilities
from airflow_provider_akinon.hooks.config import DEFAULT_PAGE_SIZE
from airflow_provider_akinon.resources import Resource, resource_named
from airflow_provider_akinon.timestamps import zone_of
from airflow_provider_akinon.windows import Window

log = logging.getLogger(__name__)

#: What the date window of a children export cuts (see ``window_on``).
WINDOW_ON = ("orders", "records", "auto")
#: A changes-feed window is walked only once it closed this long ago (clocks of two machines differ) ...
SETTLE = timedelta(seconds=15)
#: ... and the export waits at most this long for it to close.
MAX_WAIT_TO_CLOSE = timedelta(minutes=5)


class Walk(StrEnum):
    """How an export walks a list, as the plan decides; the manifest records the value (``paging``)."""

    KEYSET = "keyset"  #: id-range shards, each with an id cursor, by the date filter
    PAGES = "page"  #: the list's own paging, by the date filter
    BISECT = "bisect"  #: the window's ids found by bisection, then an id cursor; cut on the client
    NEAREND = "nearend"  #: newest first until past the window; cut on the client
    FULLSCAN = "fullscan"  #: the whole list; cut on the client
    CHILDREN = "children"  #: by their parents' ids

    @property
    def cuts(self) -> bool:
        """Whether the walk reads past the window and cuts it on the client (its date filter is ignored)."""
        return self in (Walk.BISECT, Walk.NEAREND, Walk.FULLSCAN)

    @property
    def method(self) -> str:
        """The walk in a few words, for logs and the probe command's estimate."""
        return {
            Walk.KEYSET: "keyset (id cursor), by the date filter",
            Walk.PAGES: "its own paging, by the date filter",
            Walk.BISECT: "bisection on ids, then an id cursor; cut on the client",
            Walk.NEAREND: "newest first until past the window; cut on the client",
            Walk.FULLSCAN: "a scan of the whole list; cut on the client",
            Walk.CHILDREN: "by their parents' ids",
        }[self]


#: The operator's ``paging`` argument: the probe's choice, or a walk forced.
PAGINGS = ("auto", str(Walk.KEYSET), str(Walk.PAGES))


@dataclass(frozen=True)
class Ask:
    """What an operator asks for, validated; ``window`` is recorded with non-window sources when known."""

    resource: Resource
    source: Source
    filters: Mapping[str, Any] = field(default_factory=dict)
    paging: str = "auto"
    window_on: str = "orders"
    max_concurrency: int = 4
    window: Window | None = None
    allow_full_scan: bool = False

    def source_label(self) -> str:
        """What the export covers, for logs (``[start, end)``, ``ids 101..200``)."""
        return self.source.label()


@dataclass(frozen=True)
class Plan:
    """
    How one export walks the API: everything decided, nothing left to decide downstream.

    :param walk: how the list is walked.
    :param caps: what the probe found (``None`` for children, which are fetched by parent).
    :param page_size: the records a page is asked for: what the list allows, within the connection's.
    :param probed: the walk was chosen by the probe (``paging="auto"``), not forced.
    """

    resource: Resource
    source: Source
    filters: Mapping[str, Any]
    walk: Walk
    caps: Capabilities | None
    rule: Rule
    page_size: int
    max_concurrency: int
    probed: bool
    window: Window | None = None
    order: Mapping[str, Any] = field(default_factory=dict)
    days: tzinfo | None = None  # date filters that take days: the zone their days are in

    @property
    def date_field(self) -> str | None:
        """The date field of a window source; ``None`` for other sources."""
        return self.source.date_field if isinstance(self.source, WindowSource) else None

    def describe(self) -> dict[str, Any]:
        """What the manifest records of the plan."""
        described = {"window": None, "date_field": None, "id_range": None, **self.source.describe()}
        if self.window is not None and described["window"] is None:
            described["window"] = self.window.as_dict()
        probe = None
        if self.caps is not None:  # and the walk it allows
            probe = {**self.caps.as_dict(), "paging": str(Walk.KEYSET if self.caps.keyset else Walk.PAGES)}
        return {**described, "paging": str(self.walk), "probe": probe}


def plan_export(hook: AkinonHook, ask: Ask) -> Plan:
    """Ask the API what it honours and decide how to walk: the :class:`Plan` of one export."""
    resource, source = ask.resource, ask.source
    if isinstance(source, ParentIds | Upstream):
        return _children(hook, ask, source)
    if resource.parent and not _by_own_dates(hook, ask):
        parents = Ask(
            resource_named(resource.parent), source, ask.filters, ask.paging, "orders", ask.max_concurrency
        )
        return _children(hook, ask, ParentsOf(plan_export(hook, parents)))
    date_field = source.date_field if isinstance(source, WindowSource) else None
    caps = hook.probe(
        resource.endpoint,
        date_field=date_field,
        params=ask.filters,
        key=resource.primary_key,
        bare=resource.bare_list,
    )
    if date_field and caps.date_filter_ignored:
        return _without_filter(hook, ask, caps, date_field)
    walk = _walk(resource, caps, ask.paging, isinstance(source, IdRange))
    cursor = walk is Walk.KEYSET or caps.paginator().cursor_like
    rule = CHANGES_FEED if date_field and date_field == resource.version_field and cursor else STRICT
    days = zone_of(caps.offset, hook.config.timezone) if date_field and caps.date_unit == "day" else None
    log.info("%s: %s walk, %d records a page", resource.name, walk, caps.page_size)
    return Plan(
        resource, source, ask.filters, walk, caps, rule, caps.page_size,
        ask.max_concurrency, ask.paging == "auto", ask.window, days=days,
    )  # fmt: skip


def _without_filter(hook: AkinonHook, ask: Ask, caps: Capabilities, date_field: str) -> Plan:
    """
    A window of a list that ignores the date filter, exported exactly anyway by the cheapest method the
    list allows, cut on the client: bisection on ids where ids grow with the date; else a newest-first walk
    until past the window; else, only when allowed, a scan of the whole list.
    """
    resource = ask.resource
    if caps.count and caps.offset is None:
        raise ExportConsistencyError(
            f"{resource.endpoint} ignores the {date_field}__gte/__lt filters, and its records carry no "
            f"{date_field} to cut a window on: choose a date_field this endpoint filters on."
        )
    walk, order, rule = Walk.FULLSCAN, {}, GROWING
    if caps.keyset and date_field != resource.version_field:
        walk, rule = Walk.BISECT, STRICT
    elif hook.probe_date_sort(resource.endpoint, date_field, ask.filters, sort_param=caps.sort_param):
        walk, order = Walk.NEAREND, {caps.sort_param: f"-{date_field}"}
    elif date_field != resource.version_field and (caps.sort or caps.default_order == "desc"):
        walk, order = Walk.NEAREND, {caps.sort_param: f"-{caps.sort}"} if caps.sort else {}
    elif not ask.allow_full_scan or not (caps.sort or caps.default_order):
        pages = -(-(caps.count or 0) // caps.page_size)
        raise ExportConsistencyError(
            f"{resource.endpoint} ignores the {date_field}__gte/__lt filters (the probe asked), and neither its "
            f"ids nor an order by {date_field} let a window be found without reading the whole list: about "
            f"{pages:,} requests of {caps.page_size} records for each window"
            + (
                ". Pass allow_full_scan=True to accept that."
                if caps.sort or caps.default_order
                else ", in no stable order. Export this list by id_range, or choose a date_field it filters on."
            )
        )
    elif caps.sort:
        order = {caps.sort_param: caps.sort}
    log.warning(
        "%s ignores the %s filters; the window's walk: %s", resource.endpoint, date_field, walk.method
    )
    return Plan(
        resource, ask.source, ask.filters, walk, caps, rule, caps.page_size,
        ask.max_concurrency, ask.paging == "auto", ask.window, order,
    )  # fmt: skip


def _walk(resource: Resource, caps: Capabilities, paging: str, by_ids: bool) -> Walk:
    """The walk: keyset where the probe found it works (or it is forced), else the list's own paging."""
    if by_ids and not caps.keyset and paging != Walk.KEYSET:
        raise ExportConsistencyError(
            f"{resource.endpoint} does not honour a sort on {resource.primary_key} and the id lookups (the "
            "probe asked), so it cannot be exported by id range; export it by date window instead."
        )
    if paging == Walk.KEYSET or (paging == "auto" and caps.keyset) or by_ids:
        return Walk.KEYSET
    if paging == "auto":
        missing = [
            name
            for name, ok in (
                (f"a sort on {resource.primary_key}", caps.sort_id),
                (f"{caps.lookup}__gt", caps.id_gt),
                (f"{caps.lookup}__lt", caps.id_lt),
            )
            if not ok
        ]
        log.warning(
            "%s does not honour %s: walking by its own paging (%s; deduplicated and reconciled with the count)",
            resource.endpoint,
            ", ".join(missing),
            caps.pagination,
        )
    return Walk.PAGES


def _children(hook: AkinonHook, ask: Ask, source: Source) -> Plan:
    size = hook.config.page_size or DEFAULT_PAGE_SIZE
    return Plan(
        ask.resource, source, ask.filters, Walk.CHILDREN, None, STRICT, size, ask.max_concurrency,
        ask.paging == "auto", ask.window,
    )  # fmt: skip


def _by_own_dates(hook: AkinonHook, ask: Ask) -> bool:
    """Whether a children window cuts their own dates (``window_on``; probed for ``auto``)."""
    if not isinstance(ask.source, WindowSource) or ask.window_on == "orders":
        return False
    if ask.window_on == "records":
        return True
    resource, date_field = ask.resource, ask.source.date_field
    try:
        caps = hook.probe(resource.endpoint, date_field=date_field, key=resource.primary_key)
    except AkinonApiError as err:  # Akinon's documented children lists need an order filter
        log.info("%s cannot be listed on its own (%s): exporting the orders' children", resource.name, err)
        return False
    own = bool(caps.count) and caps.date_gte is True and caps.date_lt is True
    log.info("%s %s", resource.name, f"cut on its own {date_field}" if own else "follows the orders")
    return own


def wait_until_closed(source: Source, resource: Resource) -> None:
    """
    A window on the version field still open takes records updated while it is walked, which no walk can
    promise to see: wait until it closed (``SETTLE`` ago), or refuse one that closes too far ahead.
    """
    if not isinstance(source, WindowSource) or source.date_field != resource.version_field:
        return
    window = source.window
    closes = window.end + SETTLE - datetime.now(UTC)
    if closes <= timedelta(0):
        return
    if closes > MAX_WAIT_TO_CLOSE:
        raise WindowError(
            f"The window {window} on {source.date_field} has not closed yet: records updated while it is "
            "walked land in it and could be missed. Export it once it closed (a run after its interval ends)."
        )
    log.info(
        "The window %s closes in %.0f s: waiting for it before walking it", window, closes.total_seconds()
    )
    time.sleep(closes.total_seconds())
