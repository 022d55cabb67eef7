"""Walks by the list's own paging (page numbers, limit/offset, a cursor), for endpoints without keysets.

Page numbers over data that changes can skip or repeat records, so the walk keeps the distinct records,
checks every page against the window, and settles with the API's count before and after
(:func:`~airflow_provider_akinon.exports.settle.settle`): a walk that does not match is discarded and run
again; one that never matches fails loudly.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from typing import Any

from airflow_provider_akinon.exports.checks import WindowCheck
from airflow_provider_akinon.exports.distinct import Distinct, unexported
from airflow_provider_akinon.exports.settle import GROWING, Walked, settle
from airflow_provider_akinon.exports.walks.context import Tally, WalkJob
from airflow_provider_akinon.exports.walks.window import ListWalk
from airflow_provider_akinon.hooks.paging.records import Records
from airflow_provider_akinon.windows import Window

#: How a newest-first walk knew it was done: it passed the window (the manifest's ``end``).
PAST_WINDOW = "past the window"


class PageWalk(ListWalk):
    """
    Export one window by the list's own paging into one stream of part files.

    :param check: the window check; it returns the records to keep (a cut drops those outside).
    :param stop: after a page, whether the walk has passed the window (a newest-first walk of a list
        that ignores the date filter stops there).
    """

    name = "page"
    method = "its own paging, by the date filter"

    def __init__(
        self,
        job: WalkJob,
        query: dict[str, Any],
        check: Callable[[Records], Records],
        label: str,
        *,
        stop: Callable[[Records], bool] | None = None,
    ) -> None:
        self.job = job
        self.query = query
        self.check = check
        self.label = label
        self.stop = stop
        self.writer = job.sink.open_stream()
        self.distinct = Distinct(job.resource.primary_key)
        self.skipped = self.cut = 0
        self.end: str | None = None

    @classmethod
    def extra_requests(cls, count: int, size: int, day_pages: int) -> int:
        """The count after the walk (and once more where a pass did not settle)."""
        return 2

    def run(self) -> Tally:
        """Walk the window until a pass settles with the API's count; return what it found."""
        job = self.job
        what = f"{job.resource.name} in {self.label}"
        walked = settle(
            self._walk, rule=job.plan.rule, passes=job.max_passes, what=what, again=self.writer.discard
        )
        if not walked.found and not walked.known:  # nothing, and no count to say so: asked once more
            walked = settle(
                self._walk, rule=job.plan.rule, passes=job.max_passes, what=what, again=self.writer.discard
            )
        if job.exported is not None:
            job.exported.update(self.distinct.ids)
        ends, uncounted = Counter([self.end or PAST_WINDOW]), 0 if walked.known else 1
        if job.plan.rule is GROWING:  # no count of the window exists: what was found is the count
            return Tally(
                walked.found,
                walked.found - self.skipped - self.cut,
                self.skipped,
                0,
                self.cut,
                ends=ends,
                uncounted=uncounted,
            )
        last = walked.last
        return Tally(
            last,
            walked.found - self.skipped - self.cut,
            self.skipped,
            walked.found - last,
            self.cut,
            ends=ends,
            uncounted=uncounted,
        )

    def _walk(self) -> Walked:
        job = self.job
        key = job.resource.primary_key
        self.distinct, self.skipped, self.cut, counts = Distinct(key), 0, 0, []
        paginator = job.plan.caps.paginator() if job.plan.caps else None
        pages = job.hook.pages(
            job.resource.endpoint,
            self.query,
            page_size=job.plan.page_size,
            paginator=paginator,
            decoder=job.decoder(),
        )
        for page in pages:
            counts.append(page.count)
            fresh = self.distinct.fresh(page)
            kept = self.check(fresh)
            self.cut += len(fresh) - len(kept)
            kept, already = unexported(kept, job.exported, key)
            self.skipped += already
            self.writer.write(kept)
            job.progress.add(1, len(kept))
            if self.stop is not None and self.stop(page):
                break
        self.end = pages.end  # None where the walk stopped past the window
        if job.plan.rule is GROWING:
            return Walked(len(self.distinct), tuple(counts))
        final = job.count(self.query)[0] if counts and counts[0] is not None else None
        return Walked(len(self.distinct), (counts[0] if counts else None, final))


class NearEndWalk(PageWalk):
    """A window of a list that ignores its date filter: newest first until past the window, cut on the client."""

    name = "nearend"
    method = "newest first until past the window; cut on the client"
    cuts = True
    #: the walk ends at the first page older than the window (its order is newest first)
    stops_past_window = True

    @classmethod
    def window(cls, job: WalkJob, window: Window, check: WindowCheck) -> Tally:
        """Walk in the plan's order, keeping the window's records (and stop past it, newest first)."""
        query = {**job.plan.filters, **job.plan.order}
        return cls(job, query, check, str(window), stop=check.passed if cls.stops_past_window else None).run()

    @classmethod
    def extra_requests(cls, count: int, size: int, day_pages: int) -> int:
        """The records since the window ended: about a day more."""
        return day_pages


class FullScanWalk(NearEndWalk):
    """A window of a list that ignores its date filter and has no usable order: the whole list, cut."""

    name = "fullscan"
    method = "a scan of the whole list; cut on the client"
    stops_past_window = False

    @classmethod
    def extra_requests(cls, count: int, size: int, day_pages: int) -> int:
        """Every other page of the list."""
        return math.ceil(count / size) - day_pages
