"""How a window is walked: the paging the endpoint allows (asked, not assumed), then each sub-window.

``paging="auto"`` probes the endpoint: keyset walks where it honours ``sort=id`` and the id lookups,
page-number walks where it does not. Either way an endpoint that ignores the date filter itself is
refused, since no walk could cut the window. ``keyset`` and ``page`` force a strategy.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow_provider_akinon.errors import ExportConsistencyError, WindowError
from airflow_provider_akinon.exports.checks import IdRangeCheck, WindowCheck
from airflow_provider_akinon.exports.idset import IdSet
from airflow_provider_akinon.exports.job import Tally, WalkJob
from airflow_provider_akinon.exports.keyset import KeysetWalk
from airflow_provider_akinon.exports.pages import PageWalk
from airflow_provider_akinon.exports.settle import CHANGES_FEED, STRICT, Rule
from airflow_provider_akinon.hooks.akinon import AkinonHook
from airflow_provider_akinon.hooks.probe import Capabilities
from airflow_provider_akinon.resources import Resource
from airflow_provider_akinon.windows import Window

log = logging.getLogger(__name__)

PAGINGS = ("auto", "keyset", "page")
#: The field every update stamps "now" (Django's ``auto_now``): windows on it are a changes feed.
VERSION_FIELD = "modified_date"
#: A changes-feed window is walked only once it closed this long ago (clocks of two machines differ) ...
SETTLE = timedelta(seconds=15)
#: ... and the export waits at most this long for it to close.
MAX_WAIT_TO_CLOSE = timedelta(minutes=5)


def rule_for(date_field: str | None, paging: str, caps: Capabilities) -> Rule:
    """When a walk is exact: the changes-feed rule for ``modified_date`` windows walked by a cursor."""
    cursor = paging == "keyset" or caps.pagination == "cursor"
    return CHANGES_FEED if date_field == VERSION_FIELD and cursor else STRICT


def wait_until_closed(window: Window, date_field: str | None) -> None:
    """
    A ``modified_date`` window still open takes records updated while it is walked, which no walk can
    promise to see: wait until it closed (``SETTLE`` ago), or refuse one that closes too far ahead.
    """
    if date_field != VERSION_FIELD:
        return
    closes = window.end + SETTLE - datetime.now(UTC)
    if closes <= timedelta(0):
        return
    if closes > MAX_WAIT_TO_CLOSE:
        raise WindowError(
            f"The window {window} on {date_field} has not closed yet: orders updated while it is walked "
            "land in it and could be missed. Export it once it closed (a run after its interval ends)."
        )
    log.info(
        "The window %s closes in %.0f s: waiting for it before walking it", window, closes.total_seconds()
    )
    time.sleep(closes.total_seconds())


def choose_paging(
    hook: AkinonHook, resource: Resource, date_field: str | None, filters: dict[str, Any], paging: str
) -> tuple[str, Capabilities]:
    """Probe ``resource``'s endpoint; return the walk to use (``keyset`` or ``page``) and what was found."""
    caps = hook.probe(resource.endpoint, date_field=date_field, params=filters, key=resource.primary_key)
    if date_field and caps.date_filter_ignored:
        raise ExportConsistencyError(
            f"{resource.endpoint}: the API ignored the {date_field}__gte/__lt filters (asked for records "
            f"dated after 2100 or before 1970, it still answered {caps.count}), so no window can be cut on "
            f"{date_field}. Choose a date_field this endpoint filters on."
        )
    chosen = paging if paging != "auto" else ("keyset" if caps.keyset else "page")
    if paging == "auto" and not caps.keyset:
        log.warning(
            "%s does not honour %s: walking by its own paging (%s; deduplicated and reconciled with the count)",
            resource.endpoint,
            ", ".join(
                name
                for name, ok in (
                    (f"a sort on {resource.primary_key}", caps.sort_id),
                    (f"{caps.lookup}__gt", caps.id_gt),
                    (f"{caps.lookup}__lt", caps.id_lt),
                )
                if not ok
            ),
            caps.pagination,
        )
    log.info("%s: %s walk, %d records a page", resource.name, chosen, caps.page_size)
    return chosen, caps


def walk_window(job: WalkJob, window: Window, step: timedelta | None, paging: str) -> Tally:
    """Walk ``window`` (in sub-windows of ``step``) with ``paging``; no record is written twice."""
    walk_cls = KeysetWalk if paging == "keyset" else PageWalk
    subs = list(window.split(step))
    job.exported = IdSet() if len(subs) > 1 else None
    zone = job.hook.config.timezone
    tally = Tally()
    for sub in subs:
        check = WindowCheck(job.resource.endpoint, job.resource.primary_key, sub, job.date_field, zone)
        tally += walk_cls(job, {**job.filters, **sub.filters(job.date_field)}, check, str(sub)).run()
    if tally.skipped:
        log.warning(
            "%d %s moved between sub-windows while exported (their %s changed): each was written once",
            tally.skipped,
            job.resource.name,
            job.date_field,
        )
    return tally


def walk_ids(job: WalkJob, after_id: int, to_id: int, paging: str) -> Tally:
    """Walk the records with ``after_id < id <= to_id`` (keyset only: an id range needs id lookups)."""
    if paging != "keyset":
        raise ExportConsistencyError(
            f"{job.resource.endpoint} does not honour sort=id and the id lookups (the probe asked), so it "
            "cannot be exported by id range; export it by date window instead."
        )
    label = f"ids {after_id + 1}..{to_id}"
    query = {**job.filters, "id__gte": after_id + 1, "id__lt": to_id + 1}
    return KeysetWalk(
        job, query, IdRangeCheck(job.resource.endpoint, job.resource.primary_key, after_id, to_id), label
    ).run()
