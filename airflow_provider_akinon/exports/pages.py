"""Page-number walks of a window, for endpoints without id lookups: deduplicated, checked, reconciled.

Page numbers over data that changes can skip or repeat records, so the walk keeps the distinct records,
checks every page against the window, and compares what it found with the API's count before and after.
A walk that does not match is discarded and run again; one that never matches fails loudly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from airflow_provider_akinon.exports.checks import ExportConsistencyError
from airflow_provider_akinon.exports.job import Tally, WalkJob
from airflow_provider_akinon.exports.reconcile import Distinct, unexported
from airflow_provider_akinon.hooks.records import PageDecoder, Records

log = logging.getLogger(__name__)


class PageWalk:
    """Export one window by page numbers into one stream of part files."""

    def __init__(
        self, job: WalkJob, query: dict[str, Any], check: Callable[[Records], None], label: str
    ) -> None:
        self.job = job
        self.query = query
        self.check = check
        self.label = label

    def run(self) -> Tally:
        job = self.job
        key, exported = job.resource.primary_key, job.exported
        decoder = PageDecoder(key, job.date_field)
        writer = job.open_writer(job.next_stream())
        for walk in range(1, job.max_passes + 1):
            distinct, first_count, skipped = Distinct(key), None, 0
            for page in job.hook.pages(
                job.resource.endpoint, self.query, page_size=job.limit, decoder=decoder
            ):
                first_count = page.count if first_count is None else first_count
                self.check(page)
                fresh = distinct.fresh(page)
                fresh, already = unexported(fresh, exported, key)
                skipped += already
                writer.write(fresh)
                job.progress.add(1, len(fresh))
            final = job.count(self.query)[0]
            if distinct.matches(first_count, final):
                if exported is not None:
                    exported.update(distinct.ids)
                return Tally(final, len(distinct) - skipped, skipped)
            log.warning(
                "%s: a page walk found %d records, the API counts %s then %d: data moved, walking again "
                "(pass %d)",
                job.resource.name,
                len(distinct),
                first_count,
                final,
                walk + 1,
            )
            writer.discard()
        raise ExportConsistencyError(
            f"{job.resource.name} in {self.label}: page walks kept missing records; no export was published."
        )
