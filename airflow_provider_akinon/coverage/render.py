"""The coverage as people read it (an aligned table, runs of like days on one row) and as machines do (JSON).

The table is the probe command's style (:func:`airflow_provider_akinon.probe.table`: columns two spaces
apart, a rule under the header) with a column per field; a table format's coverage is the probe's own
two-column table of questions and answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from airflow_provider_akinon.coverage.days import DRIFTED, EXPORTED, FAILED, MISSING, NOT_DUE, DayCoverage
from airflow_provider_akinon.coverage.reader import Coverage
from airflow_provider_akinon.probe import table as questions

HEADER = ("day", "state", "records", "version", "exported at", "provider", "changed", "details")
#: columns aligned right (numbers)
RIGHT = frozenset({2, 6})
#: states in the order the summary names them
STATES = (EXPORTED, DRIFTED, MISSING, FAILED, NOT_DUE)


def columns(header: Sequence[str], rows: Sequence[Sequence[str]], right: frozenset[int] = frozenset()) -> str:
    """Aligned columns two spaces apart, a rule under the header (the last column's at most 40 wide)."""
    widths = [max([len(title)] + [len(row[n]) for row in rows]) for n, title in enumerate(header)]

    def line(cells: Sequence[str]) -> str:
        shaped = (
            c.rjust(w) if n in right else c.ljust(w)
            for n, (c, w) in enumerate(zip(cells, widths, strict=True))
        )
        return "  ".join(shaped).rstrip()

    rule = "  ".join("-" * (min(w, 40) if n == len(widths) - 1 else w) for n, w in enumerate(widths))
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


def _number(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def _moment(value: str | None, *, day_only: bool = False) -> str:
    """``2026-01-03T00:10:12.345678Z`` as ``2026-01-03 00:10`` (or ``2026-01-03``)."""
    if not value:
        return ""
    return value[:10] if day_only else value[:16].replace("T", " ")


def _alike(a: DayCoverage, b: DayCoverage) -> bool:
    """Whether two days read the same but for their dates, counts and times (one row for a run of them)."""
    plain = a.state in (EXPORTED, NOT_DUE) or a.details == ["no partition"]
    same = (a.state, a.version, a.provider_version, a.details) == (
        b.state,
        b.version,
        b.provider_version,
        b.details,
    )
    return plain and same and (a.changed is None) == (b.changed is None)


def _runs(days: list[DayCoverage]) -> list[list[DayCoverage]]:
    """Consecutive days that read alike, grouped."""
    runs: list[list[DayCoverage]] = []
    for day in days:
        if runs and _alike(runs[-1][-1], day) and (day.day - runs[-1][-1].day).days == 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return runs


def _row(run: list[DayCoverage]) -> list[str]:
    """One row of the table for a run of like days (or for one day)."""
    head, tail = run[0], run[-1]
    if len(run) == 1:
        return [
            head.day.isoformat(), head.state, _number(head.records), _number(head.version),
            _moment(head.exported_at), head.provider_version or "", _number(head.changed), "; ".join(head.details),
        ]  # fmt: skip
    records = [d.records for d in run if d.records is not None]
    changed = [d.changed for d in run if d.changed is not None]
    stamps = sorted(_moment(d.exported_at, day_only=True) for d in run if d.exported_at)
    return [
        f"{head.day} .. {tail.day}", head.state, _number(sum(records)) if records else "", _number(head.version),
        " .. ".join(dict.fromkeys([stamps[0], stamps[-1]])) if stamps else "", head.provider_version or "",
        _number(sum(changed)) if changed else "", "; ".join([f"{len(run)} days", *head.details]),
    ]  # fmt: skip


def summary(coverage: Coverage) -> str:
    """``365 days: 360 exported, 1 drifted, ...``."""
    counts = coverage.counts()
    named = [f"{counts[state]} {state.replace('_', ' ')}" for state in STATES if counts.get(state)]
    return f"{len(coverage.days)} days: {', '.join(named) or 'none'}"


def text(coverage: Coverage, *, every_day: bool = False) -> str:
    """The coverage as a table: the days (runs of like days on one row, unless ``every_day``), or the table."""
    if coverage.table is not None:
        return questions(coverage.table.rows())
    runs = [[day] for day in coverage.days] if every_day else _runs(coverage.days)
    return f"{columns(HEADER, [_row(run) for run in runs], RIGHT)}\n\n{summary(coverage)}"


def as_json(coverage: Coverage) -> str:
    """The coverage as a JSON list: one object a day, or one for the table."""
    items: list[Any] = (
        [coverage.table.as_dict()] if coverage.table is not None else [d.as_dict() for d in coverage.days]
    )
    return orjson.dumps(items, option=orjson.OPT_INDENT_2).decode()
