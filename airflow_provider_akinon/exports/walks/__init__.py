"""The walks of an export, by name, and :func:`run`, the one entry that walks a plan into a sink.

A list walk (:data:`WALKS`) exports the records of one query: by keyset (id-range shards, each with
a cursor) or by the list's own pages. :func:`run` cuts the plan's source into those queries:
a window into sub-windows (no record written twice), an id range into one; children are fetched by
their parents (:mod:`.children`), whose ids come from the plan's source. A new paging style is a
paginator (:mod:`airflow_provider_akinon.hooks.paging`); a new way to walk is a module and a line here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from functools import partial
from typing import Any

from airflow_provider_akinon.exports.checks import IdRangeCheck, WindowCheck
from airflow_provider_akinon.exports.idset import IdSet
from airflow_provider_akinon.exports.output.reader import iter_export_records
from airflow_provider_akinon.exports.plan import (
    IdRange,
    ParentIds,
    ParentsOf,
    Plan,
    Upstream,
    Walk,
    WindowSource,
    wait_until_closed,
)
from airflow_provider_akinon.exports.progress import Progress
from airflow_provider_akinon.exports.walks.bisect import IdBisection
from airflow_provider_akinon.exports.walks.children import fetch_children
from airflow_provider_akinon.exports.walks.context import RecordWriter, Sink, Tally, WalkJob
from airflow_provider_akinon.exports.walks.keyset import KeysetWalk
from airflow_provider_akinon.exports.walks.pages import PageWalk
from airflow_provider_akinon.hooks.akinon import AkinonHook
from airflow_provider_akinon.hooks.records import Records, decode_page
from airflow_provider_akinon.resources import resource_named
from airflow_provider_akinon.windows import Window

log = logging.getLogger(__name__)

#: The walks of one query of a list, by the plan's :class:`~airflow_provider_akinon.exports.plan.Walk`.
WALKS: dict[Walk, type[KeysetWalk] | type[PageWalk]] = {Walk.KEYSET: KeysetWalk, Walk.PAGES: PageWalk}


def run(plan: Plan, hook: AkinonHook, sink: Sink, progress: Progress) -> tuple[Tally, dict[str, Any]]:
    """Walk ``plan`` into ``sink``; return what was found, and how (for the manifest)."""
    job = WalkJob(plan, hook, sink, progress)
    if plan.walk is Walk.CHILDREN:
        tally, how = fetch_children(job, parent_ids(plan, hook, progress))
        return tally, {"paging": how}
    wait_until_closed(plan.source, plan.resource)
    if isinstance(plan.source, IdRange):
        return walk_ids(job, plan.source), {}
    assert isinstance(plan.source, WindowSource)
    return walk_window(job, plan.source), {}


def walk_window(job: WalkJob, source: WindowSource) -> Tally:
    """Walk the window (in sub-windows of its step); no record is written twice."""
    resource, plan = job.resource, job.plan
    subs = list(source.window.split(source.step))
    job.exported = IdSet() if len(subs) > 1 else None
    zone = job.hook.config.timezone
    tally = Tally()
    for sub in subs:
        cut = plan.walk.cuts or plan.days is not None  # whole days asked for: cut on the client
        check = WindowCheck(resource.endpoint, resource.primary_key, sub, source.date_field, zone, cut=cut)
        if plan.walk.cuts:
            tally += _walk_sub(job, sub, check)
            continue
        query = {**plan.filters, **sub.filters(source.date_field, plan.days)}
        tally += WALKS[plan.walk](job, query, check, str(sub)).run()
    if tally.skipped:
        log.warning(
            "%d %s moved between sub-windows while exported (their %s changed): each was written once",
            tally.skipped,
            resource.name,
            source.date_field,
        )
    return tally


def _walk_sub(job: WalkJob, window: Window, check: WindowCheck) -> Tally:
    """A window of a list that ignores its date filter, by the plan's method, cut on the client."""
    plan, resource = job.plan, job.resource
    if plan.walk is not Walk.BISECT:  # newest first until past the window, or everything
        stop = check.passed if plan.walk is Walk.NEAREND else None
        return PageWalk(job, {**plan.filters, **plan.order}, check, str(window), stop=stop).run()
    caps = plan.caps
    assert caps is not None
    assert caps.sort is not None
    bisection = IdBisection(
        lambda query: (
            job.hook.get_page(resource.endpoint, {**plan.filters, **query}, _decoder(resource)).parsed
        ),
        key=resource.primary_key,
        lookup=caps.lookup,
        sort=caps.sort,
        sort_param=caps.sort_param,
        date_field=check.date_field,
        zone=check.naive_zone,
        limit=plan.page_size,
        size_param=caps.size_param,
    )
    ids = bisection.window(window.start, window.end)
    log.info(
        "%s %s: ids %s found by bisection in %d requests", resource.name, window, ids, bisection.requests
    )
    if ids is None:
        return Tally()
    query = {**plan.filters, f"{caps.lookup}__gte": ids[0], f"{caps.lookup}__lt": ids[1]}
    return KeysetWalk(job, query, check, f"{window} (ids {ids[0]}..{ids[1] - 1})").run()


def _decoder(resource: Any) -> Any:
    return partial(decode_page, key=resource.primary_key, allow_bare=resource.bare_list)


def walk_ids(job: WalkJob, source: IdRange) -> Tally:
    """Walk the records ``after_id < key <= to_id`` (a keyset walk: an id range needs id lookups)."""
    resource, lookup = job.resource, job.plan.caps.lookup if job.plan.caps else job.resource.lookup
    query = {**job.plan.filters, f"{lookup}__gte": source.after_id + 1, f"{lookup}__lt": source.to_id + 1}
    check = IdRangeCheck(resource.endpoint, resource.primary_key, source.after_id, source.to_id)
    return KeysetWalk(job, query, check, f"ids {source.after_id + 1}..{source.to_id}").run()


def parent_ids(plan: Plan, hook: AkinonHook, progress: Progress) -> Iterator[int]:
    """The parents whose children the plan fetches, in order."""
    source = plan.source
    if isinstance(source, ParentIds):
        return iter(source.ids)
    if isinstance(source, Upstream):
        return iter_export_records(
            source.uri, column=resource_named(plan.resource.parent or "orders").primary_key
        )
    assert isinstance(source, ParentsOf)
    ids = IdSink()
    run(source.plan, hook, ids, progress)
    return ids.ids()


class IdSink:
    """A sink that keeps only the keys of what a walk finds (the parents of a children export), in order."""

    def __init__(self) -> None:
        self.streams: list[_Ids] = []

    def open_stream(self) -> RecordWriter:
        """Open a stream that keeps the keys of the records written to it."""
        self.streams.append(_Ids())
        return self.streams[-1]

    def ids(self) -> Iterator[int]:
        """The keys found, stream after stream in the order they were opened."""
        return (key for stream in self.streams for key in stream.keys)


class _Ids:
    def __init__(self) -> None:
        self.keys: list[int] = []

    def write(self, records: Records) -> None:
        self.keys.extend(int(key) for key in records.keys or ())

    def discard(self) -> None:
        self.keys.clear()
