"""Children of orders (order items, discount items): fetched concurrently, in order, count-checked.

Where the endpoint honours ``order__in`` (the probe asks), one request carries a batch of orders;
otherwise one request per order. Either way every page is deduplicated, its records must belong to the
orders asked for, and the distinct records must equal the API's count; a batch that does not settle
after a few tries fails the export.
"""

from __future__ import annotations

import itertools
import logging
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar, NamedTuple

from airflow_provider_akinon.errors import AkinonApiError, ExportConsistencyError
from airflow_provider_akinon.exports.checks import check_parents
from airflow_provider_akinon.exports.distinct import Distinct
from airflow_provider_akinon.exports.reader import iter_export_records
from airflow_provider_akinon.exports.settle import STRICT, Walked, settle
from airflow_provider_akinon.exports.sources import ParentIds, ParentsOf, Source, Upstream
from airflow_provider_akinon.exports.walks.context import RecordWriter, Tally, WalkJob
from airflow_provider_akinon.hooks.akinon import AkinonHook
from airflow_provider_akinon.hooks.paging.records import Records
from airflow_provider_akinon.hooks.probe.questions import refuses_value
from airflow_provider_akinon.resources import Resource, resource_named

log = logging.getLogger(__name__)


class ChildrenWalk:
    """Children of orders, by their parents' ids: given, read from an upstream export, or found by the
    walk of the parents' own plan (into :class:`IdSink`, before any child is asked for)."""

    name: ClassVar[str] = "children"
    method: ClassVar[str] = "by their parents' ids"

    @classmethod
    def export(cls, job: WalkJob) -> tuple[Tally, dict[str, Any]]:
        """Write the children of the plan's parents; return the tally and how they were asked for."""
        tally, how = fetch_children(job, parent_ids(job))
        return tally, {"paging": how}

    @classmethod
    def extra_requests(cls, count: int, size: int, day_pages: int) -> int:
        """Not estimated: the requests follow the parents, not the list's own pages."""
        return 0


def parent_ids(job: WalkJob) -> Iterator[int]:
    """The parents whose children the plan fetches, in order."""
    plan, source = job.plan, job.plan.source
    if isinstance(source, ParentIds):
        return iter(source.ids)
    if isinstance(source, Upstream):
        return iter_export_records(
            source.uri, column=resource_named(plan.resource.parent or "orders").primary_key
        )
    assert isinstance(source, ParentsOf)
    ids = IdSink()
    source.plan.walk.export(WalkJob(source.plan, job.hook, ids, job.progress))
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


def batch_size(page_size: int) -> int:
    """Orders per batched request: their children should mostly fit one page."""
    return max(1, page_size // 4)


class Children(NamedTuple):
    """The children of a batch of orders in order, the API's count, the orders it no longer knows, and how
    the walks of the batch knew their lists ended."""

    records: Records
    api_count: int
    gone: list[int]
    asked: int
    ends: Counter[str]


def fetch_batch(job: WalkJob, orders: list[int], batched: bool) -> Children:
    """The children of ``orders`` (one order when not ``batched``); a batch the API refuses is halved."""
    param = job.resource.parent_param
    try:
        records, count, end = _fetch(job, orders, batched)
        return Children(records, count, [], len(orders), Counter([end] if end else []))
    except AkinonApiError as err:
        if not refuses_value(err, f"{param}__in" if batched else param):
            raise
    if len(orders) == 1:
        log.warning(
            "%s: the API refuses order %s (%s): deleted since the orders were listed, so it has none",
            job.resource.name,
            orders[0],
            param,
        )
        return Children(Records(parsed=[]), 0, orders, 1, Counter())
    half = len(orders) // 2
    parts = [fetch_batch(job, part, len(part) > 1) for part in (orders[:half], orders[half:])]
    found = [part.records for part in parts if len(part.records)]
    records = Records.concat(found) if found else Records(parsed=[])
    gone = [order for part in parts for order in part.gone]
    ends = sum((part.ends for part in parts), Counter())
    return Children(records, sum(part.api_count for part in parts), gone, len(orders), ends)


def _fetch(job: WalkJob, orders: list[int], batched: bool) -> tuple[Records, int, str | None]:
    """The children of ``orders`` (one order when not ``batched``) in order, the API's count, and how the
    walk knew the list ended."""
    resource = job.resource
    key, param, parent = resource.primary_key, resource.parent_param, resource.parent_field
    params = {f"{param}__in": ",".join(map(str, orders))} if batched else {param: orders[0]}
    wanted = {str(order) for order in orders}
    decoder = job.decoder(parent)
    found: list[Records] = []
    end: list[str | None] = [None]

    def walk() -> Walked:
        distinct, batches, count = Distinct(key), [], None
        pages = job.hook.pages(resource.endpoint, params, page_size=job.plan.page_size, decoder=decoder)
        for page in pages:
            count = page.count if count is None else count
            check_parents(resource.endpoint, page, parent, wanted)
            batches.append(distinct.fresh(page))
        end[0] = pages.end
        found[:] = [Records.concat(batches) if batches else Records(parsed=[])]
        job.progress.add(len(batches), len(found[0]))
        return Walked(len(distinct), (count,))

    what = f"{resource.name} of orders {orders[0]}..{orders[-1]}"
    walked = settle(walk, rule=STRICT, passes=job.max_passes, what=what, again=lambda: None)
    records = found[0]
    if batched:
        position = {order: n for n, order in enumerate(orders)}
        keys, parents = records.field(key, records.keys), records.field(parent, records.parents)
        order = sorted(range(len(records)), key=lambda i: (position.get(int(parents[i]), -1), int(keys[i])))
        records = records.take(order)
    return records, walked.last, end[0]


def fetch_children(job: WalkJob, order_ids: Iterable[int]) -> tuple[Tally, str]:
    """Write the children of ``order_ids`` in that order; return the tally and how they were asked for."""
    ids, batched = iter(order_ids), job.plan.batched
    resource = job.resource
    size = batch_size(job.plan.page_size) if batched else 1
    requests = (
        f"{size} orders per request ({resource.parent_param}__in)" if batched else "one request per order"
    )
    log.info("%s: %s", resource.name, requests)
    writer = job.sink.open_stream()
    tally, asked = Tally(), 0
    for chunk in _in_order(job, _chunks(ids, size), batched):
        writer.write(chunk.records)
        tally += Tally(chunk.api_count, len(chunk.records), gone=len(chunk.gone), ends=chunk.ends)
        asked += chunk.asked
    if asked and tally.gone == asked:  # a refusal of every order is not deletions: trust no empty export
        raise ExportConsistencyError(
            f"{resource.name}: the API refused every one of the {asked} orders asked for "
            f"({resource.parent_param}: 400 naming only that filter), as it refuses deleted orders; nothing "
            "was published. If they were all deleted meanwhile, a retry exports what is left; otherwise the "
            "tenant's filter refuses these ids: check the endpoint with the probe command."
        )
    return tally, requests


def asks_batched(hook: AkinonHook, resource: Resource, sample: list[int], tries: int = 3) -> bool:
    """Whether ``resource`` honours ``{parent_param}__in``, asked of two orders of ``sample`` at a time (the
    next two where one was deleted meanwhile and the API refuses it); asked by the plan, before any walk."""
    assert resource.parent_param is not None
    for start in range(0, min(len(sample), 2 * tries), 2):
        pair = sample[start : start + 2]
        if len(pair) < 2:
            break
        try:
            return hook.probe_batch_lookup(
                resource.endpoint, resource.parent_param, pair, resource.parent_field
            )
        except AkinonApiError as err:
            if err.status == 404:  # no such list: its walk will say so
                return False
            continue  # refused as unknown: the next two orders
    return False


def parent_sample(hook: AkinonHook, resource: Resource, source: Source, size: int = 6) -> list[int]:
    """A few parents of ``source`` to ask the batch question with: the first ids given or exported, or
    the first records of the parents' list (the parents' own walk has not run yet)."""
    if isinstance(source, ParentIds):
        return list(source.ids[:size])
    if isinstance(source, Upstream):
        parent = resource_named(resource.parent or "orders")
        return list(itertools.islice(iter_export_records(source.uri, column=parent.primary_key), size))
    assert isinstance(source, ParentsOf)
    plan, caps = source.plan, source.plan.caps
    assert caps is not None
    query = {**plan.filters, caps.size_param: size}
    decode = caps.decoder(plan.resource.primary_key, allow_bare=plan.resource.bare_list)
    page = hook.get_page(plan.resource.endpoint, query, decode)
    return [int(key) for key in page.field(plan.resource.primary_key, page.keys)]


def _chunks(ids: Iterator[int], size: int) -> Iterator[list[int]]:
    while chunk := list(itertools.islice(ids, size)):
        yield chunk


def _in_order(job: WalkJob, chunks: Iterator[list[int]], batched: bool) -> Iterator[Children]:
    """Results of ``fetch_batch`` for each chunk, in chunk order, at most ``2 x max_concurrency`` pending."""
    with ThreadPoolExecutor(
        job.plan.max_concurrency, thread_name_prefix=f"akinon-{job.resource.name}"
    ) as pool:
        pending: deque = deque()
        for chunk in chunks:
            pending.append(pool.submit(fetch_batch, job, chunk, batched))
            if len(pending) >= job.plan.max_concurrency * 2:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
