"""Keyset walks: a window cut into id-range shards, each walked with ``sort=id`` and an ``id__gt`` cursor.

Unlike page numbers, a cursor cannot skip a record when another one leaves the window mid-walk, and ids
only increase, so nothing is written twice. Shards run concurrently. After the walk every shard is
counted again; a shard whose count moved (records inserted or modified while it was walked) is walked
again, and a window that will not settle fails loudly rather than losing a record.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from airflow_provider_akinon.exports.checks import ExportConsistencyError, check_keyset_page
from airflow_provider_akinon.exports.idset import IdSet
from airflow_provider_akinon.exports.job import RecordWriter, Tally, WalkJob
from airflow_provider_akinon.exports.reconcile import unexported
from airflow_provider_akinon.hooks.paging import KeysetPaginator
from airflow_provider_akinon.hooks.records import PageDecoder, Records

log = logging.getLogger(__name__)

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

    def id_filters(self) -> dict[str, int]:
        bounds: dict[str, int] = {}
        if self.lo is not None:
            bounds["id__gte"] = self.lo
        if self.hi is not None:
            bounds["id__lt"] = self.hi
        return bounds


class KeysetWalk:
    """
    Export the records of ``query`` (a window, or an id range) into one stream of part files per shard.

    :param check: called with every page (the window or id-range check).
    :param label: what is walked, for messages (``[start, end)`` or ``ids 101..200``).
    """

    def __init__(
        self, job: WalkJob, query: dict[str, Any], check: Callable[[Records], None], label: str
    ) -> None:
        self.job = job
        self.query = query
        self.check = check
        self.label = label
        self._failed = threading.Event()

    def plan(self, pool: ThreadPoolExecutor) -> list[Shard]:
        """Count the window and cut its id range into shards (first and last open-ended)."""
        (count, first), (_, last) = pool.map(lambda sort: self.job.count(self.query, sort), ("id", "-id"))
        if not count or first is None:
            return []
        key = self.job.resource.primary_key
        low, high = int(first[key]), int((last or first)[key])
        # one shard per concurrent walker, and at least PAGES_PER_SHARD pages each: small windows stay
        # one sequential walk into one file
        pages = math.ceil(count / self.job.page_size)
        n = max(1, min(self.job.max_concurrency, pages // PAGES_PER_SHARD, high - low + 1))
        self.job.progress.expect(pages + n - 1)
        edges = [low + (high - low + 1) * i // n for i in range(1, n)]
        return [Shard(lo, hi) for lo, hi in zip([None, *edges], [*edges, None], strict=True)]

    def run(self) -> Tally:
        """Walk every shard; walk again the shards whose count moved; return what was found."""
        job = self.job
        with ThreadPoolExecutor(job.max_concurrency, thread_name_prefix="akinon-shard") as pool:
            shards = self.plan(pool)
            for shard in shards:
                shard.writer = job.open_writer(job.next_stream())
            pending = shards
            for walk in range(1, job.max_passes + 1):
                list(pool.map(self._walk, pending))
                counts = list(pool.map(lambda s: job.count({**self.query, **s.id_filters()})[0], shards))
                pending = [s for s, c in zip(shards, counts, strict=True) if c != s.written + s.skipped]
                if not pending:
                    tally = Tally(sum(counts), sum(s.written for s in shards), sum(s.skipped for s in shards))
                    if job.exported is not None:  # merged here, by one thread: IdSet is not thread-safe
                        for shard in shards:
                            job.exported.update(shard.ids or ())
                    return tally
                for shard in pending:
                    log.warning(
                        "%s ids %s..%s changed while walked (found %d, the API now counts %d); walking it "
                        "again (pass %d)",
                        job.resource.name,
                        shard.lo,
                        shard.hi,
                        shard.written + shard.skipped,
                        counts[shards.index(shard)],
                        walk + 1,
                    )
                    shard.writer.discard()
        raise ExportConsistencyError(
            f"{job.resource.name} in {self.label} kept changing during {job.max_passes} walks; "
            "no export was published. Retry later, or export a window that is no longer being written."
        )

    def _walk(self, shard: Shard) -> None:
        try:
            self._walk_shard(shard)
        except BaseException:
            self._failed.set()  # the other shards stop at their next page
            raise

    def _walk_shard(self, shard: Shard) -> None:
        job = self.job
        endpoint, key = job.resource.endpoint, job.resource.primary_key
        shard.written = shard.skipped = 0
        shard.ids = IdSet() if job.exported is not None else None
        after = shard.lo - 1 if shard.lo is not None else None
        paginator = KeysetPaginator(key, "id")
        decoder = PageDecoder(key, job.date_field)
        query = {**self.query, **shard.id_filters()}
        pages = job.hook.pages(endpoint, query, page_size=job.limit, paginator=paginator, decoder=decoder)
        for page in pages:
            if self._failed.is_set():
                return
            records: Records = page
            if len(page):
                check_keyset_page(endpoint, page.keys, after, shard.hi)
                self.check(page)
                after = page.keys[-1]
                records, skipped = unexported(page, job.exported, key)
                if shard.ids is not None:
                    shard.skipped += skipped
                    shard.ids.update(records.keys)
                shard.writer.write(records)
                shard.written += len(records)
            job.progress.add(1, len(records))
