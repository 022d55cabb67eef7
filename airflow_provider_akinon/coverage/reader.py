"""Read the coverage of an export root: every day of a list, exported or not, and (asked) what changed since.

::

    from airflow_provider_akinon.coverage.reader import read_coverage
    from airflow_provider_akinon.hooks.akinon import AkinonHook

    coverage = read_coverage("s3://aws_default@lake/akinon/orders/", hook=AkinonHook("akinon_default"))
    gaps = [day for day in coverage.days if day.state != "exported"]

The root is the folder of one list's partitions (``{base}/akinon/orders/``, ``{base}/akinon/changes/orders/``)
or a folder above it (``{base}`` or ``{base}/akinon/`` with ``resource``), or a Delta or Iceberg table.
Partitions are read by :mod:`.partitions`, judged and rolled up to days by :mod:`.days`; with a ``hook``
each exported window is asked of the tenant by :mod:`.drift`; a table is read by :mod:`.tables`.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from airflow_provider_akinon.compat import ObjectStoragePath
from airflow_provider_akinon.coverage.days import (
    DRIFTED,
    EXPORTED,
    NOT_DUE,
    DayCoverage,
    Judged,
    day_range,
    days_of,
    judge,
)
from airflow_provider_akinon.coverage.drift import MAX_CONCURRENCY, Drift, ask_all, unaskable
from airflow_provider_akinon.coverage.partitions import Partition, partition_names, read_partitions
from airflow_provider_akinon.coverage.tables import TableCoverage, table_coverage
from airflow_provider_akinon.errors import DestinationError
from airflow_provider_akinon.exports.commit.lease import Liveness
from airflow_provider_akinon.exports.commit.settings import PublishSettings
from airflow_provider_akinon.exports.commit.storage import destination_path
from airflow_provider_akinon.exports.commit.store import store_for
from airflow_provider_akinon.exports.tables.format import TableFormat
from airflow_provider_akinon.exports.tables.merging import held_at

log = logging.getLogger(__name__)


@dataclass
class Coverage:
    """
    What an export root holds of a list: its days, or its table.

    :param uri: the folder read (the partitions' or the table's).
    :param resource: the list its manifests name (the one asked for where none does).
    :param days: one :class:`~.days.DayCoverage` a day, oldest first (none for a table).
    :param table: the table's coverage (``None``: partitions).
    :param notes: what holds for every day (why no drift was asked, say).
    :param asked: the requests the drift sent to the tenant (``0``: none asked).
    """

    uri: str
    resource: str = ""
    days: list[DayCoverage] = field(default_factory=list)
    table: TableCoverage | None = None
    notes: list[str] = field(default_factory=list)
    asked: int = 0

    def counts(self) -> dict[str, int]:
        """How many days are in each state."""
        return dict(Counter(day.state for day in self.days))

    @property
    def whole(self) -> bool:
        """Whether every due day is exported and none drifted (a table: every hour of its feed merged)."""
        if self.table is not None:
            return not self.table.not_merged
        return all(day.state in (EXPORTED, NOT_DUE) for day in self.days)


def locate(uri: Any, resource: str) -> tuple[ObjectStoragePath, TableFormat | None]:
    """The folder of ``resource``'s partitions or table at ``uri``: ``uri`` itself, its ``<resource>/`` or its
    ``akinon/<resource>/``, whichever first holds partitions or a table; and the table's format, if one."""
    root = destination_path(uri)
    for folder in (root, root / resource, root / "akinon" / resource):
        chosen = held_at(folder)
        if chosen is not None or partition_names(store_for(folder, "")):
            return folder, chosen
    raise DestinationError(
        f"{str(root).rstrip('/')}/ holds no partitions (date=YYYY-MM-DD/, hour=YYYY-MM-DDTHH/) and no Delta or "
        f"Iceberg table, nor do its {resource}/ or akinon/{resource}/ folders. Give the folder of a list's "
        "partitions, as the example DAGs write them: {base}/akinon/<list>/ or {base}/akinon/changes/<list>/."
    )


def read_coverage(
    uri: Any,
    *,
    resource: str = "orders",
    first: date | None = None,
    last: date | None = None,
    today: date | None = None,
    hook: Any = None,
    max_concurrency: int = MAX_CONCURRENCY,
    lease_timeout: float | None = None,
    changes: Any = None,
) -> Coverage:
    """
    The coverage of ``resource`` under ``uri``, day by day from ``first`` to ``last`` (inclusive; default:
    the first partition's day to yesterday, UTC), or the table's there.

    :param today: the day that has not ended yet (default: today, UTC): it and the days after are not due.
    :param hook: an :class:`~airflow_provider_akinon.hooks.akinon.AkinonHook`: each exported window is asked
        how much of it changed since its export, ``max_concurrency`` at a time (``None``: storage only).
    :param lease_timeout: seconds after which a silent run is judged stopped (default: ``[akinon]
        publish_lease_timeout``).
    :param changes: a table's changes feed (the folder of its ``hour=`` partitions): the last hour merged.
    """
    folder, chosen = locate(uri, resource)
    if chosen is not None:
        found = table_coverage(folder, chosen, changes=changes)
        return Coverage(str(folder).rstrip("/") + "/", resource, table=found)
    today = today or datetime.now(UTC).date()
    timeout = lease_timeout if lease_timeout is not None else PublishSettings.from_config().lease_timeout
    store = store_for(folder, "")
    liveness = Liveness(store, "coverage-reader", lease_timeout=timeout)  # judges only: it never beats
    judged = [judge(partition, liveness) for partition in read_partitions(folder)]
    days = days_of(judged, day_range(judged, first, last, today), today)
    named = next((str(j.partition.manifest["resource"]) for j in judged if j.partition.manifest), resource)
    coverage = Coverage(str(folder).rstrip("/") + "/", named, days)
    if hook is not None:
        coverage.asked, coverage.notes = apply_drift(days, judged, hook, max_concurrency)
    return coverage


def apply_drift(
    days: list[DayCoverage], judged: list[Judged], hook: Any, max_concurrency: int = MAX_CONCURRENCY
) -> tuple[int, list[str]]:
    """
    Ask the tenant of each exported day's windows, and mark a day ``drifted`` where records changed since
    its export or its count moved. Return the requests sent, and the reasons shared by every day for not
    asking (a reason of some days only is in their details).
    """
    exported = {day.day: day for day in days if day.state == EXPORTED}
    windows = [j.partition for j in judged if j.state == EXPORTED and j.partition.start.date() in exported]
    if not windows:
        return 0, []
    reasons = {p.name: unaskable(p.manifest or {}, hook.host) for p in windows}
    asked = [p for p in windows if reasons[p.name] is None]
    before = hook.stats.requests
    drifts = dict(
        zip(
            (p.name for p in asked),
            ask_all(hook, [p.manifest or {} for p in asked], max_concurrency=max_concurrency),
            strict=True,
        )
    )
    shared = set(reasons.values())
    common = [] if len(shared) != 1 or None in shared else sorted(str(r) for r in shared)
    by_day: dict[date, list[Partition]] = {}
    for window in windows:
        by_day.setdefault(window.start.date(), []).append(window)
    for day in exported.values():
        parts = by_day.get(day.day, [])
        notes = [str(reasons[p.name]) for p in parts if reasons[p.name] is not None and not common]
        found = [drifts[p.name] for p in parts if p.name in drifts]
        _mark(day, found, notes, whole=len(found) == len(parts))
    return hook.stats.requests - before, common


def _mark(day: DayCoverage, found: list[Drift], notes: list[str], *, whole: bool) -> None:
    """Set a day's drift from its windows' answers (``whole``: every window of it was asked)."""
    day.details += list(dict.fromkeys(notes + [d.note for d in found if d.note is not None]))
    if not whole or not found or any(d.changed is None or d.count_now is None for d in found):
        return
    day.changed = sum(int(d.changed or 0) for d in found)
    day.count_now = sum(int(d.count_now or 0) for d in found)
    moved = day.count_now != day.records
    if day.changed or moved:
        day.state = DRIFTED
        day.details.insert(
            0,
            f"{day.changed} changed since the export"
            + (f"; count {day.records} -> {day.count_now}" if moved else ""),
        )
