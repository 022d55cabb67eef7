"""Checks every page must pass: ids in order and in range, dates inside the window, parents as asked.

DRF ignores filters it does not know without an error, so every page is checked against what was asked
for. A failed check stops the export before anything is published, with a message that names the filter
the API ignored and what to do about it.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import KW_ONLY, dataclass, field
from datetime import tzinfo
from typing import Any

from airflow_provider_akinon.errors import ExportConsistencyError
from airflow_provider_akinon.hooks.paging.records import Records
from airflow_provider_akinon.timestamps import offset_label, parse_instant
from airflow_provider_akinon.windows import Window


def check_keyset_page(
    endpoint: str, ids: list[int], after: int | None, below: int | None, *, probed: bool = False
) -> None:
    """
    The ids of a keyset page are strictly increasing, above the cursor ``after``, below ``below``.

    :param probed: the probe found the sort and the id lookups honoured (``paging='auto'``).
    """
    in_order = ids == sorted(set(ids))
    if not in_order or (after is not None and ids[0] <= after) or (below is not None and ids[-1] >= below):
        advice = (
            "The probe found them honoured, so the endpoint answers inconsistently: export with paging='page'."
            if probed
            else "Export with paging='auto' (it probes the endpoint and walks by its own paging where keysets "
            "do not work) or paging='page'."
        )
        raise ExportConsistencyError(
            f"{endpoint} returned ids {ids[0]}..{ids[-1]} outside the requested id range or order: the API "
            f"ignores the sort on id or the id__gt/id__lt lookups. {advice}"
        )


@dataclass
class WindowCheck:
    """
    Every record of a page has ``date_field`` inside the window, compared as instants, not strings;
    returns the records to keep. With ``cut`` (a list walked without its date filter), records outside
    the window are dropped and counted in ``outside`` instead: only a record without a date fails.
    """

    endpoint: str
    key: str
    window: Window
    date_field: str
    naive_zone: tzinfo
    _: KW_ONLY
    cut: bool = False
    #: the oldest date of the last page (a newest-first walk stops on it)
    oldest: Any = field(default=None, init=False)

    def __call__(self, records: Records) -> Records:
        """Check a page against the window; return its records inside it (the rest fail, or are cut)."""
        start, end, zone = self.window.start, self.window.end, self.naive_zone
        keep, oldest = [], None
        for index, value in enumerate(records.field(self.date_field, records.dates)):
            try:
                moment = parse_instant(value, zone)
            except (TypeError, ValueError):
                moment = None
            inside = moment is not None and start <= moment < end
            if not inside and (not self.cut or moment is None):
                raise ExportConsistencyError(
                    self._message(records.field(self.key, records.keys)[index], value)
                )
            oldest = moment if oldest is None or (moment is not None and moment < oldest) else oldest
            if inside:
                keep.append(index)
        self.oldest = oldest
        return records.take(keep)

    def passed(self, records: Records) -> bool:
        """Whether every record of ``records`` is dated before the window: a newest-first walk is past it."""
        moments = []
        for value in records.field(self.date_field, records.dates):
            try:
                moments.append(parse_instant(value, self.naive_zone))
            except (TypeError, ValueError):
                return False
        return bool(moments) and all(moment < self.window.start for moment in moments)

    def _message(self, key: Any, value: Any) -> str:
        where = (
            f"{self.endpoint} returned {self.key}={key} with {self.date_field}={value!r}, "
            f"outside the window {self.window}"
        )
        if isinstance(value, str) and offset_label(value) == "naive":
            return (
                f"{where}. Its timestamps carry no time zone and are read as {self.naive_zone}: if the API "
                "answers in local time, set the connection's timezone extra (e.g. Europe/Istanbul)."
            )
        # the probe found the filter honoured before any walk (an endpoint that ignores it is refused)
        what = (
            "no date (null)" if value is None else "a date the filter did not use (a placeholder or epoch?)"
        )
        return (
            f"{where}, although the API filters on {self.date_field}: this record shows {what}, so its "
            f"{self.date_field} and the one the API filters on disagree. Nothing was published; report the "
            "record to the tenant, or export this window on another date_field."
        )


def check_parents(endpoint: str, records: Records, parent: str, wanted: Container[str]) -> None:
    """Children fetched for some orders belong to those orders (``wanted`` holds their ids as text)."""
    for owner in records.field(parent, records.parents):
        if owner is not None and str(owner) not in wanted:
            raise ExportConsistencyError(
                f"{endpoint} returned a record of order {owner} that was not asked for: the API ignored "
                f"the {parent} filter."
            )


class IdRangeCheck:
    """Every record of a page has ``after_id < id <= to_id`` (an export by id range)."""

    def __init__(self, endpoint: str, key: str, after_id: int, to_id: int) -> None:
        self.endpoint, self.key, self.after_id, self.to_id = endpoint, key, after_id, to_id

    def __call__(self, records: Records) -> Records:
        """Check a page against the id range; return it whole."""
        keys = [int(key) for key in records.field(self.key, records.keys)]
        outside = [key for key in keys if not self.after_id < key <= self.to_id]
        if outside:
            raise ExportConsistencyError(
                f"{self.endpoint} returned id {outside[0]} outside ids {self.after_id + 1}..{self.to_id}: "
                "the API ignores the id__gte/id__lt lookups."
            )
        return records
