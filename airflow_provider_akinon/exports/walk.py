"""Fetch every record of a window exactly once, concurrently, with memory bounded by pages in flight.

Window lists (orders, OMS order items) are walked by **keyset shards**: the window's id range is cut into
shards, each shard is walked with ``sort=id`` and an ``id__gt`` cursor, and shards run concurrently.
Unlike page numbers, a cursor cannot skip a row when another row leaves the window mid-walk, and ids
strictly increase, so no record is written twice. After the walk every shard is counted again; a shard
whose count moved (records inserted or modified while it was walked) is walked again, and a window
that will not settle fails loudly rather than losing a record.

Per-order children (order items, discount items) are fetched concurrently, a bounded number in flight,
and come back in order.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from airflow_provider_akinon._compat import AirflowException
from airflow_provider_akinon.hooks.akinon import AkinonHook
from airflow_provider_akinon.resources import Resource
from airflow_provider_akinon.windows import Window

log = logging.getLogger(__name__)

#: A window is cut into concurrent shards only when each gets at least this many pages.
PAGES_PER_SHARD = 8


class ExportConsistencyError(AirflowException):
    """The API's data or counts disagree with what was fetched, and retrying did not settle it."""


class Sink(Protocol):
    def write(self, records: list[dict]) -> None: ...

    def discard(self) -> None: ...


class Progress:
    """Thread-safe counters with a progress line in the task log every ``interval`` seconds."""

    def __init__(self, hook: AkinonHook, label: str, *, interval: float = 5.0) -> None:
        self.hook = hook
        self.label = label
        self.interval = interval
        self.pages = 0
        self.records = 0
        self.pages_total: int | None = None
        self.started = time.monotonic()
        self._last = self.started
        self._lock = threading.Lock()

    def add(self, pages: int, records: int) -> None:
        with self._lock:
            self.pages += pages
            self.records += records
            now = time.monotonic()
            if now - self._last < self.interval:
                return
            self._last = now
        self.log_line("progress")

    def log_line(self, what: str) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        stats = self.hook.stats
        total = f"/{self.pages_total}" if self.pages_total else ""
        log.info(
            "%s %s: %d%s pages, %d records, %.0f records/s, %d requests, %d retries, %.1fs waiting, %.1fs",
            self.label,
            what,
            self.pages,
            total,
            self.records,
            self.records / elapsed,
            stats.requests,
            stats.retries,
            stats.waited,
            elapsed,
        )


@dataclass
class Shard:
    """Ids ``[lo, hi)`` of one window; ``None`` is unbounded. ``records`` counts what was written."""

    index: int
    lo: int | None
    hi: int | None
    sink: Any = None
    records: int = 0

    def id_filters(self) -> dict[str, int]:
        bounds: dict[str, int] = {}
        if self.lo is not None:
            bounds["id__gte"] = self.lo
        if self.hi is not None:
            bounds["id__lt"] = self.hi
        return bounds


class WindowWalk:
    """
    Export one window of a list resource into per-shard sinks.

    :param make_sink: called with a shard index, returns where that shard's records go.
    :param max_passes: walks of a shard whose count moves before giving up.
    """

    def __init__(
        self,
        hook: AkinonHook,
        resource: Resource,
        window: Window,
        *,
        date_field: str,
        filters: dict[str, Any],
        page_size: int,
        max_concurrency: int,
        make_sink: Callable[[int], Sink],
        progress: Progress,
        first_shard: int = 0,
        max_passes: int = 5,
    ) -> None:
        self.hook = hook
        self.resource = resource
        self.window = window
        self.date_field = date_field
        self.query = {**filters, **window.filters(date_field)}
        self.page_size = page_size
        self.max_concurrency = max_concurrency
        self.make_sink = make_sink
        self.progress = progress
        self.first_shard = first_shard
        self.max_passes = max_passes
        self.api_count = 0
        self._failed = threading.Event()
        self._bounds = (window.api(window.start)[:19], window.api(window.end)[:19])

    # ------------------------------------------------------------------ probes
    def _probe(self, extra: dict[str, Any], sort: str = "id") -> tuple[int, dict | None]:
        body = self.hook.get(self.resource.endpoint, {**self.query, **extra, "sort": sort, "limit": 1})
        results = body.get("results") or []
        return int(body.get("count", 0)), (results[0] if results else None)

    def plan(self) -> list[Shard]:
        """Count the window and cut its id range into shards (first and last open-ended)."""
        count, first = self._probe({})
        self.api_count = count
        if not count or first is None:
            return []
        _, last = self._probe({}, sort="-id")
        key = self.resource.primary_key
        low, high = int(first[key]), int(last[key]) if last else int(first[key])
        # one shard (and so one stream of part files) per concurrent walker, and at least
        # PAGES_PER_SHARD pages each: small windows stay one sequential walk into one file
        pages = math.ceil(count / self.page_size)
        n = max(1, min(self.max_concurrency, pages // PAGES_PER_SHARD, high - low + 1))
        self.progress.pages_total = (self.progress.pages_total or 0) + pages + n - 1
        edges = [low + (high - low + 1) * i // n for i in range(1, n)]
        lows: list[int | None] = [None, *edges]
        highs: list[int | None] = [*edges, None]
        return [
            Shard(self.first_shard + i, lo, hi) for i, (lo, hi) in enumerate(zip(lows, highs, strict=True))
        ]

    # ------------------------------------------------------------------ walking
    def _walk(self, shard: Shard) -> Shard:
        try:
            return self._walk_shard(shard)
        except BaseException:
            self._failed.set()  # the other shards stop at their next page
            raise

    def _walk_shard(self, shard: Shard) -> Shard:
        key = self.resource.primary_key
        shard.sink = shard.sink or self.make_sink(shard.index)
        cursor: int | None = None
        shard.records = 0
        while not self._failed.is_set():
            params = {**self.query, **shard.id_filters(), "sort": "id", "limit": self.page_size}
            if cursor is not None:
                params.pop("id__gte", None)
                params["id__gt"] = cursor
            body = self.hook.get(self.resource.endpoint, params)
            records = body.get("results") or []
            if records:
                self._check(records, cursor, shard)
                shard.sink.write(records)
                shard.records += len(records)
                cursor = int(records[-1][key])
            self.progress.add(1, len(records))
            if len(records) < self.page_size or not body.get("next"):
                return shard
        return shard

    def _check(self, records: list[dict], cursor: int | None, shard: Shard) -> None:
        """Refuse pages that show the API ignored a filter (DRF silently ignores unknown parameters)."""
        key = self.resource.primary_key
        ids = [int(record[key]) for record in records]
        # strictly increasing, past the cursor, inside the shard: C-level checks, no per-record loop
        increasing = ids == sorted(set(ids))
        below = cursor if cursor is not None else (shard.lo - 1 if shard.lo is not None else None)
        if (
            not increasing
            or (below is not None and ids[0] <= below)
            or (shard.hi is not None and ids[-1] >= shard.hi)
        ):
            raise ExportConsistencyError(
                f"{self.resource.endpoint} returned ids {ids[0]}..{ids[-1]} outside the requested id range or "
                "order: the API ignores sort=id or the id__gt/id__lt lookups. Use paging='page' for this endpoint."
            )
        lo, hi = self._bounds
        for record in (records[0], records[-1]):
            value = str(record.get(self.date_field) or "")[:19]
            if not lo <= value <= hi:
                raise ExportConsistencyError(
                    f"{self.resource.endpoint} returned {key}={record.get(key)} with {self.date_field}="
                    f"{record.get(self.date_field)!r}, outside the window {self.window}: the API ignored the "
                    f"{self.date_field}__gte/__lt filters. Choose a date_field this endpoint filters on."
                )

    def run(self) -> list[Shard]:
        """Walk every shard; re-walk shards whose count moved; return them in id order."""
        shards = self.plan()
        if not shards:
            return []
        pending = shards
        with ThreadPoolExecutor(self.max_concurrency, thread_name_prefix="akinon-shard") as pool:
            for attempt in range(1, self.max_passes + 1):
                list(pool.map(self._walk, pending))
                counts = list(pool.map(lambda s: self._probe(s.id_filters())[0], shards))
                pending = [s for s, c in zip(shards, counts, strict=True) if c != s.records]
                self.api_count = sum(counts)
                if not pending:
                    return shards
                for shard, count in zip(shards, counts, strict=True):
                    if shard in pending:
                        log.warning(
                            "%s ids %s..%s changed while walked (wrote %d, the API now counts %d); "
                            "walking it again (pass %d)",
                            self.resource.name,
                            shard.lo,
                            shard.hi,
                            shard.records,
                            count,
                            attempt + 1,
                        )
                        shard.sink.discard()
        raise ExportConsistencyError(
            f"{self.resource.name} in {self.window} kept changing during {self.max_passes} walks; "
            "no export was published. Retry later, or export a window that is no longer being written."
        )


class PageWalk(WindowWalk):
    """Fallback for endpoints without id lookups: page numbers, deduplicated, reconciled against count."""

    def run(self) -> list[Shard]:
        key = self.resource.primary_key
        shard = Shard(self.first_shard, None, None)
        shard.sink = self.make_sink(shard.index)
        for attempt in range(1, self.max_passes + 1):
            seen: set[Any] = set()
            count = None
            for page in self.hook.iter_pages(self.resource.endpoint, self.query, page_size=self.page_size):
                count = int(page.get("count", 0)) if count is None else count
                fresh = [r for r in page.get("results") or () if r[key] not in seen]
                seen.update(r[key] for r in fresh)
                shard.sink.write(fresh)
                self.progress.add(1, len(fresh))
            final, _ = self._probe({})
            self.api_count = final
            shard.records = len(seen)
            if len(seen) == final == (count or 0):
                return [shard] if seen else []
            log.warning(
                "%s: page walk saw %d records, the API counts %d (was %s): data moved, walking again (pass %d)",
                self.resource.name,
                len(seen),
                final,
                count,
                attempt + 1,
            )
            shard.sink.discard()
        raise ExportConsistencyError(
            f"{self.resource.name} in {self.window}: page walks kept missing records; no export was published."
        )


def fetch_children(
    hook: AkinonHook,
    resource: Resource,
    order_ids: Iterable[int],
    *,
    page_size: int,
    max_concurrency: int,
    progress: Progress,
) -> Iterator[list[dict]]:
    """Yield each order's children (all pages, deduplicated, count-checked), in order of ``order_ids``."""

    def fetch(order_id: int) -> list[dict]:
        records: dict[Any, dict] = {}
        count = 0
        pages = 0
        for page in hook.iter_pages(
            resource.endpoint, {resource.parent_param: order_id}, page_size=page_size
        ):
            pages += 1
            count = int(page.get("count", 0))
            for record in page.get("results") or ():
                if str(record.get(resource.parent_param)) not in ("None", str(order_id)):
                    raise ExportConsistencyError(
                        f"{resource.endpoint}?{resource.parent_param}={order_id} returned a record of order "
                        f"{record.get(resource.parent_param)}: the API ignored the filter."
                    )
                records[record[resource.primary_key]] = record
        if len(records) != count:
            raise ExportConsistencyError(
                f"{resource.name} of order {order_id}: got {len(records)} distinct records, the API counts {count}."
            )
        progress.add(pages, len(records))
        return list(records.values())

    with ThreadPoolExecutor(max_concurrency, thread_name_prefix=f"akinon-{resource.name}") as pool:
        in_flight: deque = deque()
        for order_id in order_ids:
            in_flight.append(pool.submit(fetch, order_id))
            if len(in_flight) >= max_concurrency * 2:
                yield in_flight.popleft().result()
        while in_flight:
            yield in_flight.popleft().result()
