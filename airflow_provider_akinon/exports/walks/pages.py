"""Walks by the list's own paging (page numbers, limit/offset, a cursor), for endpoints without keysets.

Page numbers over data that changes can skip or repeat records, so the walk keeps the distinct records,
checks every page against the window, and settles with the API's count before and after
(:func:`~airflow_provider_akinon.exports.settle.settle`): a walk that does not match is discarded and run
again; one that never matches fails loudly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from airflow_provider_akinon.exports.reconcile import Distinct, unexported
from airflow_provider_akinon.exports.settle import Walked, settle
from airflow_provider_akinon.exports.walks.context import Tally, WalkJob
from airflow_provider_akinon.hooks.records import PageDecoder, Records


class PageWalk:
    """Export one window by the list's own paging into one stream of part files."""

    def __init__(
        self, job: WalkJob, query: dict[str, Any], check: Callable[[Records], None], label: str
    ) -> None:
        self.job = job
        self.query = query
        self.check = check
        self.label = label
        self.writer = job.sink.open_stream()
        self.distinct = Distinct(job.resource.primary_key)
        self.skipped = 0

    def run(self) -> Tally:
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
        last = walked.last
        return Tally(last, walked.found - self.skipped, self.skipped, walked.found - last)

    def _walk(self) -> Walked:
        job = self.job
        key = job.resource.primary_key
        decoder = PageDecoder(key, job.date_field, allow_bare=job.resource.bare_list)
        self.distinct, self.skipped, first_count = Distinct(key), 0, None
        paginator = job.plan.caps.paginator() if job.plan.caps else None
        for number, page in enumerate(
            job.hook.pages(
                job.resource.endpoint,
                self.query,
                page_size=job.plan.limit,
                paginator=paginator,
                decoder=decoder,
            )
        ):
            first_count = page.count if number == 0 else first_count
            self.check(page)
            fresh, already = unexported(self.distinct.fresh(page), job.exported, key)
            self.skipped += already
            self.writer.write(fresh)
            job.progress.add(1, len(fresh))
        final = job.count(self.query)[0] if first_count is not None else None
        return Walked(len(self.distinct), (first_count, final))
