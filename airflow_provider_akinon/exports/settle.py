"""Walk until the API's count agrees: the one loop every walk settles with (shards, page walks, children).

A pass walks a query and reports what it found, with the API's counts of that query before and after
(:class:`Walked`). :func:`settle` accepts the first pass that a :class:`SettleRule` calls exact, discards the
others and walks again, and after ``passes`` tries fails with what it saw: a count that never changed but
never matched (the API's count disagrees with its pages), or one that kept moving (data still written).

Two rules, written down in the README ("Exactly once"):

- ``STRICT``: every count equals the records found. Windows on a date that never changes
  (``created_date``), page-number walks, children of orders.
- ``CHANGES_FEED``: for windows on ``modified_date`` walked by a cursor (a keyset or the API's own
  cursor), which cannot skip a record that stays in the window. Updates stamp ``modified_date`` "now", so
  a closed window only loses records while it is walked; a record updated mid-walk left for a later
  window and is no reason to walk again. Exact when ``count after <= found <= count before``: every record
  still in the window at the end was found (it was there all along, and a cursor does not skip), and
  nothing entered (which would mean the window is not closed).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass

from airflow_provider_akinon.errors import ExportConsistencyError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Walked:
    """One pass: ``found`` distinct records; the API's ``counts`` of the same query, before and after."""

    found: int
    counts: tuple[int | None, ...]

    @property
    def known(self) -> tuple[int, ...]:
        """The counts the API gave (``None`` left out)."""
        return tuple(c for c in self.counts if c is not None)

    @property
    def last(self) -> int:
        """The API's last word on the query (the records found, where the paging counts nothing)."""
        return self.known[-1] if self.known else self.found


@dataclass(frozen=True)
class SettleRule:
    """When a pass is exact (see the module docstring)."""

    name: str

    def exact(self, walked: Walked) -> bool:
        """Whether ``walked`` is exact under this rule."""
        known = walked.known
        if self.name == "changes_feed" and known:
            return known[-1] <= walked.found <= known[0]
        if self.name == "growing":
            return all(b >= a for a, b in itertools.pairwise(known))
        return all(count == walked.found for count in known)


STRICT = SettleRule("strict")
CHANGES_FEED = SettleRule("changes_feed")
#: for walks without the date filter, in an order where records only ever move later (newest first, or
#: by key): the list's count may grow while walked (duplicates, dropped), never shrink (skips)
GROWING = SettleRule("growing")


def settle(
    walk: Callable[[], Walked],
    *,
    rule: SettleRule,
    passes: int,
    what: str,
    again: Callable[[], None],
) -> Walked:
    """
    Run ``walk`` until ``rule`` calls a pass exact; ``again()`` discards a pass before the next one.

    :param what: what is walked, for messages (``orders ids 1..500``).
    """
    seen: list[Walked] = []
    for attempt in range(1, passes + 1):
        walked = walk()
        if rule.exact(walked):
            return walked
        seen.append(walked)
        if attempt < passes:
            log.warning(
                "%s: found %d records, the API counts %s: data moved while walked, walking again (pass %d)",
                what,
                walked.found,
                " then ".join(map(str, walked.counts)),
                attempt + 1,
            )
            again()
    raise ExportConsistencyError(unsettled(what, seen))


def unsettled(what: str, seen: list[Walked]) -> str:
    """Why no pass was exact: a count that never matched the pages, or data that kept changing."""
    found = {w.found for w in seen}
    counts = {c for w in seen for c in w.known}
    if len(found) == 1 and len(counts) == 1:
        return (
            f"{what}: every walk ({len(seen)}) found {found.pop()} records but the API counts {counts.pop()} "
            "every time, and nothing changed between the walks: its count disagrees with the records its "
            "pages hold (a count that is wrong, or records the paging never shows). No export was published."
        )
    return (
        f"{what} kept changing during {len(seen)} walks (found {sorted(found)}, the API counted "
        f"{sorted(counts)}); no export was published. Retry later, or export a window that is no longer "
        "being written."
    )
