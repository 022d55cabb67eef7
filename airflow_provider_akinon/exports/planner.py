"""Deciding an export: :func:`plan_export` turns what the operator asks (an :class:`~.plan.Ask`) into a
:class:`~.plan.Plan`, once, before any record is read.

It asks the API what it honours (the probe) and chooses the walk (keyset where the list honours a sort on
its key and its key's lookups, else its own paging, and for lists that ignore their date filter a
bisection on ids, newest first, or a whole scan), the page size and the rule that makes the walk exact.
Sources of records: a date window (cut into sub-windows by ``window_step``), an id range, explicit parent
ids, an upstream export of parents, or the parents another plan walks.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from airflow_provider_akinon.errors import AkinonApiError, ExportConsistencyError, WindowError
from airflow_provider_akinon.exports.plan import Ask, Plan
from airflow_provider_akinon.exports.settle import CHANGES_FEED, GROWING, STRICT
from airflow_provider_akinon.exports.sources import (
    IdRange,
    ParentIds,
    ParentsOf,
    Source,
    Upstream,
    WindowSource,
)
from airflow_provider_akinon.exports.walks import (
    WALKS,
    BisectWalk,
    ChildrenWalk,
    FullScanWalk,
    KeysetWalk,
    NearEndWalk,
    PageWalk,
)
from airflow_provider_akinon.exports.walks.children import asks_batched, parent_sample
from airflow_provider_akinon.exports.walks.window import ListWalk
from airflow_provider_akinon.hooks.akinon import AkinonHook
from airflow_provider_akinon.hooks.config import DEFAULT_PAGE_SIZE
from airflow_provider_akinon.hooks.paging.styles import PAGINATORS, envelope_named
from airflow_provider_akinon.hooks.probe.capabilities import Capabilities
from airflow_provider_akinon.resources import Resource, resource_named
from airflow_provider_akinon.timestamps import zone_of

log = logging.getLogger(__name__)

#: What the date window of a children export cuts (see ``window_on``).
WINDOW_ON = ("orders", "records", "auto")
#: A changes-feed window is walked only once it closed this long ago (clocks of two machines differ) ...
SETTLE = timedelta(seconds=15)
#: ... and the export waits at most this long for it to close.
MAX_WAIT_TO_CLOSE = timedelta(minutes=5)


#: The operator's ``paging`` argument: the probe's choice, or a walk forced.
PAGINGS = ("auto", KeysetWalk.name, PageWalk.name)


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
        lookup=resource.lookup,
        bare=resource.bare_list,
    )
    if date_field and caps.date_filter_ignored:
        return _without_filter(hook, ask, caps, date_field)
    walk = _ended(resource, caps, _walk(resource, caps, ask.paging, isinstance(source, IdRange)))
    cursor = walk is KeysetWalk or caps.paginator().cursor_like
    rule = CHANGES_FEED if date_field and date_field == resource.version_field and cursor else STRICT
    days = zone_of(caps.offset, hook.config.timezone) if date_field and caps.date_unit == "day" else None
    log.info("%s: %s walk, %d records a page", resource.name, walk.name, caps.page_size)
    return Plan(
        resource, source, ask.filters, walk, caps, rule, caps.page_size,
        ask.max_concurrency, ask.paging == "auto", ask.window, days=days,
        not_before=walkable_from(source, resource), allowed=_allowed(caps),
    )  # fmt: skip


def _allowed(caps: Capabilities) -> str:
    """The walk the probe's answers allow: keyset where the list honours it, else its own pages."""
    return (KeysetWalk if caps.keyset else PageWalk).name


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
    walk: type[ListWalk] = FullScanWalk
    order, rule = {}, GROWING
    if caps.keyset and date_field != resource.version_field:
        walk, rule = BisectWalk, STRICT
    elif hook.probe_date_sort(
        resource.endpoint, date_field, ask.filters, sort_param=caps.sort_param, size_param=caps.size_param
    ):
        walk, order = NearEndWalk, {caps.sort_param: f"-{date_field}"}
    elif date_field != resource.version_field and (caps.sort or caps.default_order == "desc"):
        walk, order = NearEndWalk, {caps.sort_param: f"-{caps.sort}"} if caps.sort else {}
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
    walk = _ended(resource, caps, walk)
    log.warning(
        "%s ignores the %s filters; the window's walk: %s", resource.endpoint, date_field, walk.method
    )
    return Plan(
        resource, ask.source, ask.filters, walk, caps, rule, caps.page_size,
        ask.max_concurrency, ask.paging == "auto", ask.window, order,
        not_before=walkable_from(ask.source, resource), allowed=_allowed(caps),
    )  # fmt: skip


def _ended(resource: Resource, caps: Capabilities, walk: type[ListWalk]) -> type[ListWalk]:
    """
    ``walk``, unless it walks by the list's own paging and the probe found no way to know where that
    ends (no count, no next page, and neither a page number nor an offset moves on): refused before any walk.
    """
    if issubclass(walk, PageWalk) and caps.pagination == "unknown":
        counted = "no count" if caps.count is None else f"a count of {caps.count:,}"
        raise ExportConsistencyError(
            f"{resource.endpoint} answers {caps.page_size} records (asked {caps.limit}; {counted}; "
            f"{envelope_named(caps.envelope).describe()}), and neither page=2 nor an offset moves to other "
            "records (the probe asked): no paging style known follows it, so where its list ends cannot be "
            "known, and a walk stopping on a short page could export it short. Set the connection's pagination "
            f"extra to how it pages ({', '.join(PAGINATORS)}), or register a paginator that reads its next page "
            "(README, 'Adding a paging style'). Nothing was exported."
        )
    return walk


def _walk(resource: Resource, caps: Capabilities, paging: str, by_ids: bool) -> type[ListWalk]:
    """The walk: keyset where the probe found it works (or it is forced), else the list's own paging."""
    forced = WALKS.get(paging)
    if by_ids and not caps.keyset and forced is not KeysetWalk:
        raise ExportConsistencyError(
            f"{resource.endpoint} does not honour a sort on {resource.primary_key} and the "
            f"{caps.lookup}__gt/__lt lookups (the probe asked), so it cannot be exported by id range; export it "
            "by date window instead."
        )
    if forced is KeysetWalk or (forced is None and caps.keyset) or by_ids:
        return KeysetWalk
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
    return PageWalk


def _children(hook: AkinonHook, ask: Ask, source: Source) -> Plan:
    size = hook.config.page_size or DEFAULT_PAGE_SIZE
    return Plan(
        ask.resource, source, ask.filters, ChildrenWalk, None, STRICT, size, ask.max_concurrency,
        ask.paging == "auto", ask.window,
        not_before=source.plan.not_before if isinstance(source, ParentsOf) else None,
        batched=asks_batched(hook, ask.resource, parent_sample(hook, ask.resource, source)),
    )  # fmt: skip


def _by_own_dates(hook: AkinonHook, ask: Ask) -> bool:
    """Whether a children window cuts their own dates (``window_on``; probed for ``auto``)."""
    if not isinstance(ask.source, WindowSource) or ask.window_on == "orders":
        return False
    if ask.window_on == "records":
        return True
    resource, date_field = ask.resource, ask.source.date_field
    try:
        caps = hook.probe(
            resource.endpoint, date_field=date_field, key=resource.primary_key, lookup=resource.lookup
        )
    except AkinonApiError as err:  # Akinon's documented children lists need an order filter
        log.info("%s cannot be listed on its own (%s): exporting the orders' children", resource.name, err)
        return False
    own = bool(caps.count) and caps.date_gte is True and caps.date_lt is True
    log.info("%s %s", resource.name, f"cut on its own {date_field}" if own else "follows the orders")
    return own


def walkable_from(source: Source, resource: Resource) -> datetime | None:
    """
    A window on the version field still open takes records updated while it is walked, which no walk can
    promise to see: it is walked once it closed (``SETTLE`` ago). ``None``: at once. One that closes too
    far ahead is refused.
    """
    if not isinstance(source, WindowSource) or source.date_field != resource.version_field:
        return None
    window = source.window
    closes = window.end + SETTLE
    if closes - datetime.now(UTC) > MAX_WAIT_TO_CLOSE:
        raise WindowError(
            f"The window {window} on {source.date_field} has not closed yet: records updated while it is "
            "walked land in it and could be missed. Export it once it closed (a run after its interval ends)."
        )
    return closes
