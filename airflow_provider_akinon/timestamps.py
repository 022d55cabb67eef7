"""Instants, not strings: read the API's timestamps (``Z``, ``+03:00`` or naive) and write filter values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo


def api_time(moment: datetime) -> str:
    """A filter value in UTC, exact to the microsecond: ``2026-01-01T00:00:00.000000Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_instant(value: str, naive_zone: tzinfo = UTC) -> datetime:
    """An aware datetime for an API timestamp; a value without offset is read in ``naive_zone``."""
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=naive_zone)


def zone_of(label: str | None, naive_zone: tzinfo = UTC) -> tzinfo:
    """The zone a timestamp style names: ``Z`` is UTC, ``+03:00`` a fixed offset, ``naive`` ``naive_zone``."""
    if not label or label == "Z":
        return UTC
    if label == "naive":
        return naive_zone
    sign = -1 if label[0] == "-" else 1
    hours, minutes = (int(part) for part in label[1:].split(":"))
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def offset_label(value: str | None) -> str | None:
    """How a timestamp states its zone: ``Z``, an offset such as ``+03:00``, or ``naive``."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return "naive"
    if value.endswith("Z"):
        return "Z"
    offset = moment.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
