"""Resolve the half-open export window ``[start, end)`` from arguments or the run's context."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

import pendulum

from airflow_provider_akinon.errors import WindowError
from airflow_provider_akinon.timestamps import api_time

#: The most sub-windows ``window_step`` may cut a window into: each costs a probe of counts and a walk.
MAX_SUB_WINDOWS = 1000
FIX = (
    "Schedule the DAG with CronDataIntervalTimetable('0 0 * * *', timezone='UTC') (from airflow.sdk; "
    "airflow.timetables.interval on Airflow 2) so each run covers a whole day from midnight to midnight, "
    "or pass start= and end= to the operator explicitly."
)


@dataclass(frozen=True)
class Window:
    """A half-open UTC interval ``[start, end)``."""

    start: datetime
    end: datetime

    @staticmethod
    def api(bound: datetime) -> str:
        """``bound`` as a filter value: UTC, to the microsecond."""
        return api_time(bound)

    def filters(self, date_field: str, days: tzinfo | None = None) -> dict[str, str]:
        """
        The API query of this window on ``date_field``: ``field__gte=start`` and ``field__lt=end``; with
        ``days`` (a zone), the days covering the window there, for filters that take days (the window is
        then cut on the client).
        """
        if days is None:
            return {f"{date_field}__gte": self.api(self.start), f"{date_field}__lt": self.api(self.end)}
        first = self.start.astimezone(days).date()
        after = (self.end - timedelta(microseconds=1)).astimezone(days).date() + timedelta(days=1)
        return {f"{date_field}__gte": first.isoformat(), f"{date_field}__lt": after.isoformat()}

    def as_dict(self) -> dict[str, str]:
        """The window as the manifest records it: ``start`` and ``end`` as filter values."""
        return {"start": self.api(self.start), "end": self.api(self.end)}

    def split(self, step: timedelta | None) -> Iterator[Window]:
        """Cut the window into consecutive sub-windows of ``step`` (the last may be shorter)."""
        if not step:
            yield self
            return
        cursor = self.start
        while cursor < self.end:
            upper = min(cursor + step, self.end)
            yield Window(cursor, upper)
            cursor = upper

    def partitions(self) -> dict[str, dict[str, str]]:
        """Each asset partition the window covers (:meth:`partition_keys`), with the part of the window it is."""
        keys = self.partition_keys()
        if len(keys) == 1:
            return {keys[0]: self.as_dict()}
        return {
            key: Window(self.start + timedelta(days=n), self.start + timedelta(days=n + 1)).as_dict()
            for n, key in enumerate(keys)
        }

    def partition_keys(self) -> list[str]:
        """
        The asset partitions the window covers: each UTC day of a window of whole days (``2026-01-02``);
        else its start (``2026-01-02T13:00:00``, what Airflow's temporal partition mappers read).
        """
        if self.start == _midnight(self.start) and self.end == _midnight(self.end):
            days = (self.end - self.start).days
            return [(self.start + timedelta(days=n)).strftime("%Y-%m-%d") for n in range(days)]
        return [self.start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")]

    def __str__(self) -> str:
        return f"[{self.start.isoformat()}, {self.end.isoformat()})"


def _midnight(moment: datetime) -> datetime:
    utc = moment.astimezone(UTC)
    return utc.replace(hour=0, minute=0, second=0, microsecond=0)


def to_datetime(value: Any, name: str) -> datetime:
    """Read an ISO string, date or datetime as an aware UTC datetime (naive values are UTC)."""
    refused = WindowError(f"{name}={value!r} is not an ISO date or datetime (e.g. 2026-01-31T00:00:00Z).")
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value.strip():
        try:
            parsed = pendulum.parse(value.strip())
        except (ValueError, pendulum.parsing.exceptions.ParserError):
            raise refused from None
        if isinstance(parsed, datetime):
            moment = parsed
        elif isinstance(parsed, date):
            moment = datetime(parsed.year, parsed.month, parsed.day)
        else:  # a duration (P1D) or a time of day: not a moment
            raise refused
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        raise refused
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return datetime.fromtimestamp(moment.timestamp(), tz=UTC)


def resolve_window(start: Any, end: Any, context: Mapping[str, Any] | None) -> Window:
    """
    The window of one run: explicit ``start``/``end`` first, else the run's data interval.

    Refuses a missing or zero-width window: Airflow 3 cron schedules (``CronTriggerTimetable``) have
    ``data_interval_start == data_interval_end``, and manual runs may have no logical date at all.
    """
    context = context or {}
    if start in (None, "") or end in (None, ""):
        interval_start = context.get("data_interval_start")
        interval_end = context.get("data_interval_end")
        if interval_start is None or interval_end is None:
            raise WindowError(
                "No export window: start/end were not given and this run has no data interval "
                f"(a manual run without a logical date, or an asset-triggered run). {FIX}"
            )
        start = interval_start if start in (None, "") else start
        end = interval_end if end in (None, "") else end
    explicit = start is not None and start != "" and end is not None and end != ""
    window = Window(to_datetime(start, "start"), to_datetime(end, "end"))
    if explicit and window.end < window.start:
        raise WindowError(
            f"start {window.start.isoformat()} is after end {window.end.isoformat()}: swap them."
        )
    if window.end <= window.start:
        kind = "zero-width" if window.end == window.start else "negative"
        raise WindowError(
            f"The export window {window} is {kind}: it would export nothing. Airflow 3 turns cron "
            f"strings and @daily into CronTriggerTimetable, whose runs have data_interval_start == "
            f"data_interval_end. {FIX}"
        )
    return window


def parse_step(value: Any, window: Window | None = None) -> timedelta | None:
    """
    Read ``window_step``: a ``timedelta`` or an ISO 8601 duration like ``P1D`` / ``PT6H`` (a bare number
    would be a guess at its unit). Refuses a step that cuts ``window`` into over ``MAX_SUB_WINDOWS``.
    """
    if value is None or value == "":
        return None
    refused = WindowError(
        f"window_step={value!r} is not a duration: pass a timedelta or an ISO 8601 duration, e.g. "
        "timedelta(days=1) or 'P1D' (a bare number would leave its unit to a guess)."
    )
    if isinstance(value, timedelta):
        step = value
    elif isinstance(value, str) and value.strip().upper().startswith("P"):
        try:
            duration = pendulum.parse(value.strip())
        except Exception:
            raise refused from None
        if not isinstance(duration, timedelta):
            raise refused
        step = timedelta(seconds=duration.total_seconds())
    else:
        raise refused
    if step.total_seconds() <= 0:
        raise WindowError(f"window_step must be positive, got {value!r}.")
    if window is not None and (window.end - window.start) / step > MAX_SUB_WINDOWS:
        pieces = math.ceil((window.end - window.start) / step)
        raise WindowError(
            f"window_step={value!r} cuts the window {window} into {pieces:,} sub-windows (at most "
            f"{MAX_SUB_WINDOWS:,}): choose a longer step, e.g. timedelta(days=1)."
        )
    return step


def resolve_id_range(value: Any) -> tuple[int, int] | None:
    """
    Read ``id_range``, the orders ``after_id < id <= to_id``: ``{"after_id": a, "to_id": b}`` (what the
    new-orders event carries), ``(a, b)``, or ``"a,b"``. ``None`` when not given.
    """
    if value in (None, "", (), [], {}):
        return None
    try:
        if isinstance(value, dict):
            after, to = value["after_id"], value["to_id"]
        elif isinstance(value, str):
            after, to = (part.strip() for part in value.strip("()[] ").replace(":", ",").split(","))
        else:
            after, to = value
        after, to = int(after), int(to)
    except (KeyError, TypeError, ValueError):
        raise WindowError(
            f"id_range={value!r} is not an id range; pass {{'after_id': a, 'to_id': b}}, (a, b) or 'a,b' "
            "for the orders a < id <= b."
        ) from None
    if to <= after or after < 0:
        raise WindowError(f"id_range={value!r} is empty: to_id must be greater than after_id (>= 0).")
    return after, to
