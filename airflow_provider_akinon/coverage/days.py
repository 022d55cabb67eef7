"""What state a partition is in, and a day's coverage from its partitions (one ``date=``, or its ``hour=``).

A partition is **exported** when it has a manifest and nothing of a stopped run is stuck in its lease;
**failed** (left by a failed run) when a run judged stopped left staging, or holds the lease, without a
manifest, or left an intent (parts half moved in) or a commit not yet in place beside one; **missing**
otherwise. A run is judged stopped as the commit protocol judges it
(:meth:`~airflow_provider_akinon.exports.commit.lease.Liveness.stale`): its newest staged object (its
heartbeat) older than the lease timeout, read here against this machine's clock (a report, not a decision:
a skew of seconds matters little against a timeout of a minute). A day is **not_due** from today (UTC) on:
its interval has not ended. Hours roll up to days: a day is exported when its exported partitions' windows
cover it whole, failed when one of them is, missing otherwise (the hours not covered named). **drifted**
is set later, by the tenant's counts (:mod:`.drift`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from airflow_provider_akinon.coverage.partitions import Partition
from airflow_provider_akinon.exports.commit.lease import LeaseState, Liveness
from airflow_provider_akinon.exports.commit.protocol import version_of

EXPORTED, DRIFTED, MISSING, FAILED, NOT_DUE = "exported", "drifted", "missing", "failed", "not_due"
DAY = timedelta(days=1)


@dataclass
class DayCoverage:
    """
    One day of a list, as storage (and, where asked, the tenant) shows it.

    :param state: ``exported``, ``drifted``, ``missing``, ``failed`` or ``not_due``.
    :param records: the records its manifests list (summed over its hours).
    :param version: its manifest's ``version`` (the highest of its hours').
    :param exported_at: its manifest's ``created_at`` (the latest of its hours').
    :param provider_version: the provider version that wrote its manifests.
    :param changed: records of the day changed at the tenant since its export (``None``: not asked).
    :param count_now: the tenant's count of the day now (``None``: not asked).
    :param partitions: how many partitions it has (1 a ``date=`` day, up to 24 for hours).
    :param uri: the partition's folder (a ``date=`` day).
    :param details: why it is in this state, in words.
    """

    day: date
    state: str
    records: int | None = None
    version: int | None = None
    exported_at: str | None = None
    provider_version: str | None = None
    changed: int | None = None
    count_now: int | None = None
    partitions: int = 0
    uri: str | None = None
    details: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The day as JSON-ready values (``day`` as ``YYYY-MM-DD``)."""
        return {**asdict(self), "day": self.day.isoformat()}


@dataclass(frozen=True)
class Judged:
    """A partition with its state (``exported``, ``failed`` or ``missing``) and why."""

    partition: Partition
    state: str
    notes: tuple[str, ...] = ()


def judge(partition: Partition, liveness: Liveness) -> Judged:
    """The state of one partition: what its manifest, its lease and its runs' staging say."""
    if partition.problem is not None:
        return Judged(partition, FAILED, (f"unreadable: {partition.problem}",))
    lease = partition.lease or LeaseState()
    stopped = {run for run, newest in partition.staged.items() if liveness.stale(newest)}
    live = set(partition.staged) - stopped
    notes = _lease_notes(partition, lease, live)
    holder_live = lease.holder in live
    stuck = not holder_live and (lease.intent is not None or _pending(partition, lease) is not None)
    left = sorted(stopped - {lease.holder})
    if left:
        notes.append(f"staging left by stopped run{'s' if len(left) > 1 else ''} {', '.join(left)}")
    notes += [f"run {run} is exporting it now" for run in sorted(live - {lease.holder})]
    if partition.manifest is not None:
        return Judged(partition, FAILED if stuck else EXPORTED, tuple(notes))
    if stuck or left or (lease.holder is not None and not holder_live):
        return Judged(partition, FAILED, tuple(notes))
    return Judged(partition, MISSING, tuple(notes) or ("no manifest",))


def _pending(partition: Partition, lease: LeaseState) -> dict[str, Any] | None:
    """A commit in the lease newer than the manifest in place: committed, not yet pointed at."""
    if lease.commit is not None and version_of(lease.commit) > version_of(partition.manifest):
        return lease.commit
    return None


def _lease_notes(partition: Partition, lease: LeaseState, live: set[str]) -> list[str]:
    """What the lease says of a run publishing: live, or stopped with an intent or a commit left in it."""
    if lease.holder in live:
        return [f"run {lease.holder} is publishing it now"]
    notes = []
    if lease.holder is not None:
        notes.append(f"the lease is held by run {lease.holder}, which stopped (the next run takes it over)")
    if lease.intent is not None:
        parts = len(lease.intent.get("parts", ()))
        notes.append(
            f"stuck intent: run {lease.intent.get('token')} stopped moving in {parts} part"
            f"{'s' if parts != 1 else ''} (the next run of the interval rolls {'it' if parts == 1 else 'them'} back)"
        )
    pending = _pending(partition, lease)
    if pending is not None:
        notes.append(
            f"stuck commit: version {version_of(pending)} committed by run {pending.get('run')}, its manifest "
            "not in place (the next run of the interval rolls it forward)"
        )
    return notes


def day_range(judged: Iterable[Judged], first: date | None, last: date | None, today: date) -> list[date]:
    """The days reported: ``first`` (default: the first partition's) to ``last`` (default: yesterday)."""
    starts = [j.partition.start.date() for j in judged]
    first = first or (min(starts) if starts else today - DAY)
    last = last or today - DAY
    return [first + DAY * n for n in range((last - first).days + 1)]


def days_of(judged: list[Judged], days: list[date], today: date) -> list[DayCoverage]:
    """The coverage of each of ``days`` from the judged partitions that start in it."""
    by_day: dict[date, list[Judged]] = {}
    for one in judged:
        by_day.setdefault(one.partition.start.date(), []).append(one)
    return [_day(day, by_day.get(day, []), today) for day in days]


def _day(day: date, parts: list[Judged], today: date) -> DayCoverage:
    """One day from its partitions."""
    coverage = DayCoverage(day, MISSING, partitions=len(parts))
    if len(parts) == 1 and parts[0].partition.name.startswith("date="):
        coverage.uri = parts[0].partition.uri
    _describe(coverage, [p.partition.manifest for p in parts if p.partition.manifest is not None])
    hourly = any(not p.partition.name.startswith("date=") for p in parts)
    coverage.details = [f"{p.partition.name}: {note}" if hourly else note for p in parts for note in p.notes]
    if day >= today:
        coverage.state = NOT_DUE
        coverage.details.insert(0, "not due: the day has not ended")
    elif not parts:
        coverage.details = ["no partition"]
    elif any(p.state == FAILED for p in parts):
        coverage.state = FAILED
    else:
        gaps = _gaps(day, [p.partition for p in parts if p.state == EXPORTED])
        coverage.state = EXPORTED if not gaps else MISSING
        if gaps and hourly:
            coverage.details.insert(0, f"not exported: {', '.join(gaps)}")
    coverage.details = list(dict.fromkeys(coverage.details))
    return coverage


def _describe(coverage: DayCoverage, manifests: list[dict[str, Any]]) -> None:
    """A day's records, version, export time and provider version, from its manifests."""
    if not manifests:
        return
    coverage.records = sum(int(m.get("records") or 0) for m in manifests)
    coverage.version = max(version_of(m) for m in manifests)
    coverage.exported_at = max(str(m.get("created_at")) for m in manifests)
    coverage.provider_version = ", ".join(sorted({str(m.get("provider_version")) for m in manifests}))


def _gaps(day: date, exported: list[Partition]) -> list[str]:
    """The parts of ``day`` no exported partition covers, as ``HH:MM-HH:MM``."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    gaps, reached = [], start
    for partition in sorted(exported, key=lambda p: p.start):
        if partition.start > reached:
            gaps.append((reached, partition.start))
        reached = max(reached, partition.end or partition.start)
    if reached < start + DAY:
        gaps.append((reached, start + DAY))
    return [f"{a:%H:%M}-{'24:00' if b == start + DAY else f'{b:%H:%M}'}" for a, b in gaps]
