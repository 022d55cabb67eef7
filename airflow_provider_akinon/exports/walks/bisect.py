"""The id range of a window on a list that ignores its date filter, found by bisection on ids.

Ids are handed out as records are created, so ``created_date`` (and ``date_placed``) grow with them:
the first id of a window is found in about log2(ids) requests of one record each, reading the date of
the record at or after an id. Where ids and dates are not quite in step (records created in the same
second by concurrent transactions), the edges are widened until a whole page on each side lies outside
the window. The keyset walk of that id range then cuts the window on the client, record by record.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

from airflow_provider_akinon.exports.checks import WindowCheck
from airflow_provider_akinon.exports.walks.context import Tally, WalkJob
from airflow_provider_akinon.exports.walks.keyset import KeysetWalk
from airflow_provider_akinon.exports.walks.window import ListWalk
from airflow_provider_akinon.timestamps import parse_instant
from airflow_provider_akinon.windows import Window

log = logging.getLogger(__name__)

#: Widening passes at each edge before the ids are called too far out of step with the dates.
MAX_WIDENINGS = 20

Head = Callable[[dict[str, Any]], list[dict[str, Any]]]


class IdBisection:
    """
    Bisect the ids of a list by the date of its records.

    :param head: sends one query (a page size, a sort, id lookups) and returns its records.
    :param key: the record field of the id; ``lookup`` its filter name; ``sort`` the ordering value.
    :param size_param: the query parameter of the page size (``limit`` or ``page_size``, as probed).
    """

    def __init__(
        self,
        head: Head,
        *,
        key: str,
        lookup: str,
        sort: str,
        sort_param: str,
        date_field: str,
        zone: Any,
        limit: int,
        size_param: str,
    ) -> None:
        self.head, self.key, self.lookup, self.size_param = head, key, lookup, size_param
        self.sort, self.sort_param, self.date_field, self.zone, self.limit = (
            sort,
            sort_param,
            date_field,
            zone,
            limit,
        )
        self.requests = 0

    def _records(self, **query: Any) -> list[dict[str, Any]]:
        self.requests += 1
        return self.head(query)

    def _date(self, record: dict[str, Any]) -> datetime:
        return parse_instant(record[self.date_field], self.zone)

    def bounds(self) -> tuple[int, int] | None:
        """The smallest and largest id of the list (``None``: it is empty)."""
        low = self._records(**{self.sort_param: self.sort, self.size_param: 1})
        high = self._records(**{self.sort_param: f"-{self.sort}", self.size_param: 1})
        return (int(low[0][self.key]), int(high[0][self.key])) if low and high else None

    def first_at_or_after(self, moment: datetime, low: int, high: int) -> int:
        """The smallest id ``x`` such that the record at or after it is dated ``>= moment`` (``high + 1``: none)."""
        lo, hi = low, high + 1
        while lo < hi:
            mid = (lo + hi) // 2
            found = self._records(
                **{self.sort_param: self.sort, f"{self.lookup}__gte": mid, self.size_param: 1}
            )
            if not found or self._date(found[0]) >= moment:
                hi = mid
            else:
                lo = int(found[0][self.key]) + 1
        return lo

    def widened(self, lo: int, hi: int, start: datetime, end: datetime) -> tuple[int, int]:
        """``[lo, hi)`` widened until a page before it lies before ``start`` and one after it after ``end``."""
        for _ in range(MAX_WIDENINGS):
            before = self._records(
                **{self.sort_param: f"-{self.sort}", f"{self.lookup}__lt": lo, self.size_param: self.limit}
            )
            late = [int(r[self.key]) for r in before if self._date(r) >= start]
            if not late:
                break
            lo = min(late)
        for _ in range(MAX_WIDENINGS):
            after = self._records(
                **{self.sort_param: self.sort, f"{self.lookup}__gte": hi, self.size_param: self.limit}
            )
            early = [int(r[self.key]) for r in after if self._date(r) < end]
            if not early:
                break
            hi = max(early) + 1
        return lo, hi

    def window(self, start: datetime, end: datetime) -> tuple[int, int] | None:
        """The ids ``[lo, hi)`` holding every record dated in ``[start, end)`` (``None``: the list is empty)."""
        bounds = self.bounds()
        if bounds is None:
            return None
        lo = self.first_at_or_after(start, *bounds)
        hi = self.first_at_or_after(end, lo, bounds[1])
        return self.widened(lo, hi, start, end)


class BisectWalk(ListWalk):
    """A window of a list that ignores its date filter, whose ids grow with the date: its ids found by
    bisection, then walked by an id cursor and cut on the client."""

    name = "bisect"
    method = "bisection on ids, then an id cursor; cut on the client"
    cuts = True

    @classmethod
    def window(cls, job: WalkJob, window: Window, check: WindowCheck) -> Tally:
        """Find the window's ids, then walk them as a keyset walk does."""
        plan, resource, caps = job.plan, job.resource, job.plan.caps
        assert caps is not None
        assert caps.sort is not None
        decode = caps.decoder(resource.primary_key, allow_bare=resource.bare_list)
        bisection = IdBisection(
            lambda query: job.hook.get_page(resource.endpoint, {**plan.filters, **query}, decode).parsed,
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

    @classmethod
    def extra_requests(cls, count: int, size: int, day_pages: int) -> int:
        """Two bisections of the list's ids, the widening pages, and the keyset walk's counts."""
        return 4 * math.ceil(math.log2(max(2, count))) + 6
