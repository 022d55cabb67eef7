"""What every walk of a list's records is: :class:`ListWalk`, a class the plan names, run on the plan's source.

A window source is cut into sub-windows of its step, each checked record by record and walked by the
walk's :meth:`ListWalk.window`; no record is written twice across them. A walk that ignores the list's
date filter (``cuts``) reads past each sub-window and cuts it on the client.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from airflow_provider_akinon.exports.checks import WindowCheck
from airflow_provider_akinon.exports.idset import IdSet
from airflow_provider_akinon.exports.sources import IdRange, WindowSource
from airflow_provider_akinon.exports.walks.context import Tally, WalkJob
from airflow_provider_akinon.windows import Window

log = logging.getLogger(__name__)


class ListWalk:
    """
    A way to walk the records of a list; subclasses walk one sub-window (:meth:`window`).

    :cvar name: what the manifest records of the walk (``paging``).
    :cvar method: the walk in a few words, for logs and the probe command's estimate.
    :cvar cuts: the walk reads past the window and cuts it on the client (the date filter is ignored).
    """

    name: ClassVar[str]
    method: ClassVar[str]
    cuts: ClassVar[bool] = False

    @classmethod
    def export(cls, job: WalkJob) -> tuple[Tally, dict[str, Any]]:
        """Walk the plan's source into the job's sink; return what was found, and how (for the manifest)."""
        source = job.plan.source
        if isinstance(source, IdRange):
            return cls.ids(job, source), {}
        assert isinstance(source, WindowSource)
        return walk_window(cls, job, source), {}

    @classmethod
    def ids(cls, job: WalkJob, source: IdRange) -> Tally:
        """Walk an id range; only a walk with id lookups can, and the plan chooses no other."""
        raise TypeError(f"the {cls.name} walk cannot walk an id range")

    @classmethod
    def window(cls, job: WalkJob, window: Window, check: WindowCheck) -> Tally:
        """Walk one sub-window, checked by ``check``; by default, one query by the list's date filter."""
        plan = job.plan
        assert plan.date_field is not None
        query = {**plan.filters, **window.filters(plan.date_field, plan.days)}
        return cls(job, query, check, str(window)).run()  # type: ignore[call-arg,attr-defined]

    @classmethod
    def extra_requests(cls, count: int, size: int, day_pages: int) -> int:
        """Requests a day's export takes beyond its pages (``count`` records in the list, ``size`` a page)."""
        return 0


def walk_window(walk: type[ListWalk], job: WalkJob, source: WindowSource) -> Tally:
    """Walk the window in sub-windows of its step with ``walk``; no record is written twice."""
    resource, plan = job.resource, job.plan
    subs = list(source.window.split(source.step))
    job.exported = IdSet() if len(subs) > 1 else None
    zone = job.hook.config.timezone
    tally = Tally()
    for sub in subs:
        cut = walk.cuts or plan.days is not None  # whole days asked for: cut on the client
        check = WindowCheck(resource.endpoint, resource.primary_key, sub, source.date_field, zone, cut=cut)
        tally += walk.window(job, sub, check)
    if tally.skipped:
        log.warning(
            "%d %s moved between sub-windows while exported (their %s changed): each was written once",
            tally.skipped,
            resource.name,
            source.date_field,
        )
    return tally
