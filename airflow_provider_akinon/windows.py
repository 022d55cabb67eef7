"""Resolve the half-open export window ``[start, end)`` from arguments or the run's context."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pendulum

from airflow_provider_akinon.compat import AirflowException
from airflow_provider_akinon.timestamps import api_time

FIX = (
    "Schedule the DAG with CronDataIntervalTimetable('0 0 * * *', timezone='UTC') (from airflow.sdk; "
    "airflow.timetables.interval on Airflow 2) so each run covers a whole day from midnight to midnight, "
    "or pass start= and end= to the operator explicitly."
)


class WindowError(AirflowException):
    """The export window is missing, empty or unreadable; the message says how to fix the DAG."""


@dataclass(frozen=True)
class Window:
    """A half-open UTC interval ``[start, end)``."""

    start: datetime
    end: datetime

    @staticmethod
    def api(bound: datetime) -> str:
        return api_time(bound)

    def filters(self, date_field: str) -> dict[str, str]:
        """The API query of this window on ``date_field``: ``field__gte=start`` and ``field__lt=end``."""
        return {f"{date_field}__gte": self.api(self.start), f"{date_field}__lt": self.api(self.end)}

    def as_dict(self) -> dict[str, str]:
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

    def __str__(self) -> str:
        return f"[{self.start.isoformat()}, {self.end.isoformat()})"


def to_datetime(value: Any, name: str) -> datetime:
    """Read an ISO string, date or datetime as an aware UTC datetime (naive values are UTC)."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value.strip():
        try:
            moment = pendulum.parse(value.strip())
        except (ValueError, pendulum.parsing.exceptions.ParserError) as err:
            raise WindowError(
                f"{name}={value!r} is not an ISO date or datetime (e.g. 2026-01-31T00:00:00Z)."
            ) from err
        if not isinstance(moment, datetime):
            moment = datetime(moment.year, moment.month, moment.day)
    elif hasattr(value, "year") and hasattr(value, "month") and hasattr(value, "day"):
        moment = datetime(value.year, value.month, value.day)
    else:
        raise WindowError(f"{name}={value!r} is not an ISO date or datetime (e.g. 2026-01-31T00:00:00Z).")
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
    window = Window(to_datetime(start, "start"), to_datetime(end, "end"))
    if window.end <= window.start:
        kind = "zero-width" if window.end == window.start else "negative"
        raise WindowError(
            f"The export window {window} is {kind}: it would export nothing. Airflow 3 turns cron "
            f"strings and @daily into CronTriggerTimetable, whose runs have data_interval_start == "
            f"data_interval_end. {FIX}"
        )
    return window


def parse_step(value: Any) -> timedelta | None:
    """Read ``window_step``: a timedelta, seconds, or an ISO 8601 duration like ``P1D`` / ``PT6H``."""
    if value in (None, "", 0):
        return None
    if isinstance(value, timedelta):
        step = value
    elif isinstance(value, int | float):
        step = timedelta(seconds=value)
    else:
        try:
            duration = pendulum.parse(str(value))
        except Exception as err:
            raise WindowError(
                f"window_step={value!r} is not a duration; use e.g. timedelta(days=1) or 'P1D'."
            ) from err
        if not isinstance(duration, timedelta):
            raise WindowError(
                f"window_step={value!r} is not a duration; use e.g. timedelta(days=1) or 'P1D'."
            )
        step = timedelta(seconds=duration.total_seconds())
    if step.total_seconds() <= 0:
        raise WindowError(f"window_step must be positive, got {value!r}.")
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
