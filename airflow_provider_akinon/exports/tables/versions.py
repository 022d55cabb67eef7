"""The rules of a current-state table, row by row: which version of a record a row holds, and its deletion.

A row holds the newest version of a record (its ``version_field``) and ``_deleted_at``: the newest
deletion of it that is not older than that version. Applied in any order, any number of times, merges
and deletions leave the same rows. The Delta table writes these rules as its merge's SQL
(:func:`~airflow_provider_akinon.exports.tables.current.version_rules`,
:mod:`~airflow_provider_akinon.exports.tables.deletions`); tables merged in Python (Iceberg) call these
functions. ``tests/exports/test_current_state.py`` checks both against the same model.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

DELETED = "_deleted_at"

Row = dict[str, Any]


def merged(existing: Row | None, incoming: Row, version: str | None) -> Row | None:
    """
    The row after ``incoming`` (a version, with the deletion known of its parent) meets ``existing``;
    ``None``: the row stays as it is.

    :param version: the field that orders versions (``modified_date``); ``None``: the first version stays.
    """
    if existing is None:
        return incoming
    if version is None:
        return None
    held, coming = existing.get(version), incoming.get(version)
    if not (held is None or (coming is not None and coming > held)):
        return None
    deleted, marked = existing.get(DELETED), incoming.get(DELETED)
    keep = deleted is not None and coming is not None and deleted >= coming
    if keep and (marked is None or deleted > marked):
        return {**incoming, DELETED: deleted}
    return incoming


def deleted(existing: Row, at: datetime, version: str | None) -> Row | None:
    """The row once a deletion at ``at`` meets it (``None``: unchanged): marked where the deletion is newer
    than the one it holds and not older than its version."""
    held = existing.get(DELETED)
    if held is not None and not at > held:
        return None
    if version is not None and existing.get(version) is not None and at < existing[version]:
        return None
    return {**existing, DELETED: at}


#: History tables (``history=True``): every version the exports saw, and when it stopped being current.
VALID_FROM, VALID_TO, CURRENT = "valid_from", "valid_to", "is_current"


def is_deletion(row: Row, version: str) -> bool:
    """
    Whether a history row is a deletion's own: no version, a deletion time, and neither current nor ended
    (a version is one or the other; a deletion coming in has neither yet). A version whose ``version``
    field is NULL is not one: it starts when an export saw it (:func:`since`).
    """
    return (
        row.get(version) is None
        and row.get(DELETED) is not None
        and row.get(VALID_TO) is None
        and not row.get(CURRENT, False)
    )


def since(row: Row, version: str) -> Any:
    """When a version starts: its ``version`` field, else (NULL) when an export saw it (``valid_from`` once kept)."""
    start = row.get(version)
    return start if start is not None else row.get(VALID_FROM) or row["_exported_at"]


def row_id(row: Row, key: str, version: str) -> tuple:
    """What identifies a row of a history table: its record, ``valid_from``, and whether it is a deletion."""
    return (row[key], row[VALID_FROM], is_deletion(row, version))


def history_of(rows: list[Row], version: str) -> list[Row]:
    """
    The rows of one record in a history table, decided again from everything known of it: its versions
    (their ``version`` field; where it is NULL, when an export saw them) and its deletions (rows of their
    own, :func:`is_deletion`). The same versions and deletions give the same rows, in whatever order and
    however often they came.

    A version is valid from its ``version`` to the next version, or to the first deletion before that
    (which it then carries in ``_deleted_at``); the newest version is current unless a deletion ended it.
    A version seen twice is kept once; a deletion is kept as a row of its own (``valid_from`` its time).
    """
    versions: dict[Any, Row] = {}
    deletions: dict[Any, Row] = {}
    for row in rows:
        if is_deletion(row, version):
            deletions.setdefault(
                row[DELETED], {**row, VALID_FROM: row[DELETED], VALID_TO: None, CURRENT: False}
            )
        else:
            versions.setdefault(since(row, version), row)
    ordered = sorted(versions)
    ends = sorted(deletions)
    decided = list(deletions.values())
    for n, start in enumerate(ordered):
        following = ordered[n + 1] if n + 1 < len(ordered) else None
        ended = next((d for d in ends if d >= start and (following is None or d < following)), None)
        valid_to = ended if ended is not None else following
        decided.append(
            {
                **versions[start],
                VALID_FROM: start,
                VALID_TO: valid_to,
                CURRENT: valid_to is None,
                DELETED: ended,
            }
        )
    return decided
