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
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow_provider_akinon.errors import AkinonApiError, ExportConsistencyError, WindowError
from airflow_provider_akinon.exports.settle import CHANGES_FEED, STRICT, Rule
from airflow_provider_akinon.hooks.akinon import AkinonHook
from airflow_provider_akinon.hooks.capabilities import Capabilities
from airflow_provider_akinon.hooks.config import DEFAULT_PAGE_SIZE
from airflow_provider_akinon.resources import Resource, resource_named
from airflow_provider_akinon.windows import Window

log = logging.getLogger(__name__)

PAGINGS = ("auto", "keyset", "page")
#: What the date window of a children export cuts (see ``window_on``).
WINDOW_ON = ("orders", "records", "auto")
#: A changes-feed window is walked only once it closed this long ago (clocks of two machines differ) ...
SETTLE = timedelta(seconds=15)
#: ... and the export waits at most this long for it to close.
MAX_WAIT_TO_CLOSE = timedelta(minutes=5)


@dataclass(frozen=True)
class WindowSource:
    """The records whose ``date_field`` lies in ``window``, walked in sub-windows of ``step``."""

    window: Window
    date_field: str
    step: timedelta | None = None

    def describe(self) -> dict[str, Any]:
        return {"source": "window", "window": self.window.as_dict(), "date_field": self.date_field}

    def label(self) -> str:
        return str(self.window)


@dataclass(frozen=True)
class IdRange:
    """The records ``after_id < key <= to_id``."""

    after_id: int
    to_id: int

    def describe(self) -> dict[str, Any]:
        return {"source": "id_range", "id_range": {"after_id": self.after_id, "to_id": self.to_id}}

    def label(self) -> str:
        return f"ids {self.after_id + 1}..{self.to_id}"


@dataclass(frozen=True)
class ParentIds:
    """The children of these parents (``order_ids``)."""

    ids: tuple[int, ...]

    def describe(self) -> dict[str, Any]:
        return {"source": "order_ids"}

    def label(self) -> str:
        return f"of {len(self.ids)} orders"


@dataclass(frozen=True)
class Upstream:
    """The children of the parents in an upstream export (``orders_from``)."""

    uri: str

    def describe(self) -> dict[str, Any]:
        return {"source": f"orders_from {self.uri}"}

    def label(self) -> str:
        return f"of the orders in {self.uri}"


@dataclass(frozen=True)
class ParentsOf:
    """The children of the parents ``plan`` walks (a window or id range of orders)."""

    plan: Plan

    def describe(self) -> dict[str, Any]:
        return self.plan.source.describe()

    def label(self) -> str:
        return self.plan.source.label()


Source = WindowSource | IdRange | ParentIds | Upstream | ParentsOf


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

    def source_label(self) -> str:
        """What the export covers, for logs (``[start, end)``, ``ids 101..200``)."""
        return self.source.label()


@dataclass(frozen=True)
class Plan:
    """
    How one export walks the API: everything decided, nothing left to decide downstream.

    :param walk: the walk's name in :data:`~airflow_provider_akinon.exports.walks.WALKS`.
    :param caps: what the probe found (``None`` for children, which are fetched by parent).
    :param limit: the page size asked for; ``page_size`` is what the API returns for it.
    :param probed: the walk was chosen by the probe (``paging="auto"``), not forced.
    """

    resource: Resource
    source: Source
    filters: Mapping[str, Any]
    walk: str
    caps: Capabilities | None
    rule: Rule
    limit: int
    page_size: int
    max_concurrency: int
    probed: bool
    window: Window | None = None

    @property
    def date_field(self) -> str | None:
        return self.source.date_field if isinstance(self.source, WindowSource) else None

    def describe(self) -> dict[str, Any]:
        """What the manifest records of the plan."""
        described = {"window": None, "date_field": None, "id_range": None, **self.source.describe()}
        if self.window is not None and described["window"] is None:
            described["window"] = self.window.as_dict()
        paging = self.walk if self.walk != "pages" else "page"
        return {**described, "paging": paging, "probe": self.caps.as_dict() if self.caps else None}


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
        raise ExportConsistencyError(
            f"{resource.endpoint}: the API ignores the {date_field}__gte/__lt filters (the probe asked for "
            f"records on either side of a record's {date_field} and got the unfiltered list), so no window "
            f"can be cut on {date_field}. Choose a date_field this endpoint filters on."
        )
    walk = _walk(resource, caps, ask.paging, isinstance(source, IdRange))
    cursor = walk == "keyset" or caps.pagination == "cursor"
    rule = CHANGES_FEED if date_field and date_field == resource.version_field and cursor else STRICT
    log.info("%s: %s walk, %d records a page", resource.name, walk, caps.page_size)
    return Plan(
        resource, source, ask.filters, walk, caps, rule, caps.page_size, caps.page_size,
        ask.max_concurrency, ask.paging == "auto", ask.window,
    )  # fmt: skip


def _walk(resource: Resource, caps: Capabilities, paging: str, by_ids: bool) -> str:
    """The walk: keyset where the probe found it works (or it is forced), else the list's own paging."""
    if by_ids and not caps.keyset and paging != "keyset":
        raise ExportConsistencyError(
            f"{resource.endpoint} does not honour a sort on {resource.primary_key} and the id lookups (the "
            "probe asked), so it cannot be exported by id range; export it by date window instead."
        )
    if paging == "keyset" or (paging == "auto" and caps.keyset) or by_ids:
        return "keyset"
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
    return "pages"


def _children(hook: AkinonHook, ask: Ask, source: Source) -> Plan:
    size = hook.config.page_size or DEFAULT_PAGE_SIZE
    return Plan(
        ask.resource, source, ask.filters, "children", None, STRICT, size, size, ask.max_concurrency,
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
