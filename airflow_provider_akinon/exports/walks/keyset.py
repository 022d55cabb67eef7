"""Keyset walks: a window cut into id-range shards, each walked with a sort on the key and an id cursor.

Unlike page numbers, a cursor cannot skip a record when another one leaves the window mid-walk, and ids
only increase, so nothing is written twice. Shards run concurrently, and each settles on its own
(:func:`~airflow_provider_akinon.exports.settle.settle`): counted again after its walk, and walked again
until the job's rule calls it exact. Once all have settled, every shard is counted once more (another
shard's walk took time, and data may have moved meanwhile); a shard that moved is settled again. A window
that will not settle fails the export rather than lose a record.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from airflow_provider_akinon.errors import ExportConsistencyError, ShardStopped
from airflow_provider_akinon.exports.checks import IdRangeCheck, check_keyset_page
from airflow_provider_akinon.exports.distinct import unexported
from airflow_provider_akinon.exports.idset import IdSet
from airflow_provider_akinon.exports.settle import Walked, settle
from airflow_provider_akinon.exports.sources import IdRange
from airflow_provider_akinon.exports.walks.context import RecordWriter, Tally, WalkJob
from airflow_provider_akinon.exports.walks.window import ListWalk
from airflow_provider_akinon.hooks.paging.records import Records
from airflow_provider_akinon.hooks.paging.styles import KeysetPaginator
from airflow_provider_akinon.hooks.paging.walker import EMPTY

#: A window is cut into concurrent shards only when each gets at least this many pages.
PAGES_PER_SHARD = 8


@dataclass
class Shard:
    """Ids ``[lo, hi)`` of one window (``None``: unbounded) and what its walk wrote."""

    lo: int | None
    hi: int | None
    writer: RecordWriter | None = None
    written: int = 0
    skipped: int = 0
    ids: IdSet | None = None  # the ids this shard wrote, when sub-windows must not write one twice
    cut: int = 0  # records outside the window, dropped (a list walked without its date filter)
    walked: Walked | None = None
    end: str | None = None  # how its last walk knew the list ended

    def id_filters(self, lookup: str) -> dict[str, int]:
        """The id lookups that bound the shard: ``<lookup>__gte=lo``, ``<lookup>__lt=hi``."""
        bounds: dict[str, int] = {}
        if self.lo is not None:
            bounds[f"{lookup}__gte"] = self.lo
        if self.hi is not None:
            bounds[f"{lookup}__lt"] = self.hi
        return bounds


class KeysetWalk(ListWalk):
    """
    Export the records of ``query`` (a window, or an id range) into one stream of part files per shard.

    :param check: called with every page (the window or id-range check).
    :param label: what is walked, for messages (``[start, end)`` or ``ids 101..200``).
    """

    name = "keyset"
    method = "keyset (id cursor), by the date filter"

    def __init__(
        self, job: WalkJob, query: dict[str, Any], check: Callable[[Records], Records], label: str
    ) -> None:
        self.job = job
        self.query = query
        self.check = check
        self.label = label
        self.lookup = job.plan.caps.lookup if job.plan.caps else job.resource.lookup
        self._failed = threading.Event()

    @classmethod
    def ids(cls, job: WalkJob, source: IdRange) -> Tally:
        """Walk the records ``after_id < key <= to_id``."""
        resource, lookup = job.resource, job.plan.caps.lookup if job.plan.caps else job.resource.lookup
        query = {**job.plan.filters, f"{lookup}__gte": source.after_id + 1, f"{lookup}__lt": source.to_id + 1}
        check = IdRangeCheck(resource.endpoint, resource.primary_key, source.after_id, source.to_id)
        return cls(job, query, check, f"ids {source.after_id + 1}..{source.to_id}").run()

    @classmethod
    def extra_requests(cls, count: int, size: int, day_pages: int) -> int:
        """The counts before and after each shard's walk, and the recount once all settled."""
        return 6

    def plan(self, pool: ThreadPoolExecutor) -> list[Shard]:
        """Count the window and cut its id range into shards (first and last open-ended)."""
        (count, first), (_, last) = pool.map(lambda desc: self.job.count(self.query, desc), (False, True))
        if first is None:
            count, first = self.job.count(self.query)  # an empty window publishes only once confirmed
            if first is None:  # an empty page, twice
                return []
            last = first
        key = self.job.resource.primary_key
        low, high = int(first[key]), int((last or first)[key])
        if count is None:  # the list counts nothing: its id range bounds how many records it holds
            count = high - low + 1
        # one shard per concurrent walker, and at least PAGES_PER_SHARD pages each: small windows stay
        # one sequential walk into one file
        pages = math.ceil(count / self.job.plan.page_size)
        n = max(1, min(self.job.plan.max_concurrency, pages // PAGES_PER_SHARD, high - low + 1))
        self.job.progress.expect(pages + n - 1)
        edges = [low + (high - low + 1) * i // n for i in range(1, n)]
        return [Shard(lo, hi) for lo, hi in zip([None, *edges], [*edges, None], strict=True)]

    def run(self) -> Tally:
        """Walk every shard until it settles; return what was found."""
        job = self.job
        with ThreadPoolExecutor(job.plan.max_concurrency, thread_name_prefix="akinon-shard") as pool:
            shards = self.plan(pool)
            if not shards:
                return Tally(ends=Counter([EMPTY]))
            for shard in shards:
                shard.writer = job.sink.open_stream()
            pending = shards
            for _ in range(job.max_passes):
                self._settle_all(pool, pending)
                pending = [s for s, moved in zip(shards, pool.map(self._moved, shards), strict=True) if moved]
                if not pending:
                    break
                for shard in pending:
                    shard.writer.discard()  # type: ignore[union-attr]
            if pending:
                raise ExportConsistencyError(
                    f"{job.resource.name} in {self.label} kept changing after every shard settled, "
                    f"{job.max_passes} times; no export was published. Retry later, or export a window "
                    "that is no longer being written."
                )
        tally = Tally()
        for shard in shards:
            assert shard.walked is not None
            last = shard.walked.last
            ends, uncounted = Counter([shard.end] if shard.end else []), 0 if shard.walked.known else 1
            tally += Tally(
                last,
                shard.written,
                shard.skipped,
                shard.walked.found - last,
                shard.cut,
                ends=ends,
                uncounted=uncounted,
            )
            if job.exported is not None:  # merged here, by one thread: IdSet is not thread-safe
                job.exported.update(shard.ids or ())
        return tally

    def _moved(self, shard: Shard) -> bool:
        """Whether the shard's count moved since it settled (a recount no longer exact by the rule)."""
        assert shard.walked is not None
        now = self.job.count({**self.query, **shard.id_filters(self.lookup)})[0]
        again = Walked(shard.walked.found, (*shard.walked.counts[:1], now))
        if self.job.plan.rule.exact(again):
            shard.walked = again
            return False
        return True

    def _settle_all(self, pool: ThreadPoolExecutor, shards: list[Shard]) -> None:
        """Settle ``shards`` concurrently; the first shard that failed names the error, not those it stopped."""
        futures = [pool.submit(self._settle, shard) for shard in shards]
        errors = [err for err in (future.exception() for future in futures) if err is not None]
        real = [err for err in errors if not isinstance(err, ShardStopped)]
        if errors:
            raise (real or errors)[0]

    def _settle(self, shard: Shard) -> None:
        lo = "" if shard.lo is None else shard.lo
        hi = "" if shard.hi is None else shard.hi - 1
        assert shard.writer is not None
        try:
            shard.walked = settle(
                lambda: self._walk(shard),
                rule=self.job.plan.rule,
                passes=self.job.max_passes,
                what=f"{self.job.resource.name} in {self.label} (ids {lo}..{hi})",
                again=shard.writer.discard,
            )
        except ShardStopped:
            raise
        except BaseException:
            self._failed.set()  # the other shards stop at their next page
            raise

    def _walk(self, shard: Shard) -> Walked:
        job = self.job
        endpoint, key = job.resource.endpoint, job.resource.primary_key
        shard.written = shard.skipped = shard.cut = 0
        shard.ids = IdSet() if job.exported is not None else None
        after = shard.lo - 1 if shard.lo is not None else None
        paginator = (
            job.plan.caps.keyset_paginator(key) if job.plan.caps else KeysetPaginator(key, self.lookup)
        )
        query = {**self.query, **shard.id_filters(self.lookup)}
        before: int | None = None
        pages = job.hook.pages(
            endpoint, query, page_size=job.plan.page_size, paginator=paginator, decoder=job.decoder()
        )
        for number, page in enumerate(pages):
            if self._failed.is_set():
                raise ShardStopped
            before = page.count if number == 0 else before
            records: Records = page
            keys = page.field(key, page.keys)
            if keys:
                check_keyset_page(endpoint, keys, after, shard.hi, probed=job.plan.probed)
                kept = self.check(page)
                shard.cut += len(page) - len(kept)
                after = keys[-1]
                records, skipped = unexported(kept, job.exported, key)
                if shard.ids is not None:
                    shard.skipped += skipped
                    shard.ids.update(records.field(key, records.keys))
                assert shard.writer is not None
                shard.writer.write(records)
                shard.written += len(records)
            job.progress.add(1, len(records))
        shard.end = pages.end
        after_count = job.count(query)[0]
        return Walked(shard.written + shard.skipped + shard.cut, (before, after_count))
