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
#: the starts of later versions of the same content folded into a row (``version_on="content"``)
FOLDED = "_folded_from"


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


def history_of(
    rows: list[Row],
    version: str,
    *,
    key: str = "id",
    content: str | None = None,
    deletion_rows: bool = True,
) -> list[Row]:
    """
    The rows of one record in a history table, decided again from everything known of it: its versions
    (their ``version`` field; where it is NULL, when an export saw them) and its deletions (rows of their
    own, :func:`is_deletion`, or carried by the version they ended). The same versions and deletions give
    the same rows, in whatever order and however often they came.

    A version is valid from its ``version`` to the next version, or to the first deletion before that
    (which it then carries in ``_deleted_at``); the newest version is current unless a deletion ended it.
    A version seen twice is kept once; a deletion is kept as a row of its own (``valid_from`` its time),
    unless ``deletion_rows`` is false and it ended a version.

    :param content: the column of a version's content hash: a version whose content repeats the version
        before it (no deletion between) is no new version; its start is kept in ``folded`` (the same
        column's name with ``_folded_from``) of the row it extends, and it stands again should a version
        of other content come between them.
    """
    versions, deletions = _facts(rows, key, version)
    ends = sorted(deletions)
    ordered = _kept(versions, ends, content) if content else {start: [] for start in sorted(versions)}
    starts = list(ordered)
    decided = []
    ending: set[Any] = set()
    for n, start in enumerate(starts):
        following = starts[n + 1] if n + 1 < len(starts) else None
        ended = next((d for d in ends if d >= start and (following is None or d < following)), None)
        valid_to = ended if ended is not None else following
        ending.add(ended)
        row = {
            **versions[start],
            VALID_FROM: start,
            VALID_TO: valid_to,
            CURRENT: valid_to is None,
            DELETED: ended,
        }
        if content:
            row[FOLDED] = ordered[start] or None
        decided.append(row)
    return [d for at, d in deletions.items() if deletion_rows or at not in ending] + decided


def _facts(rows: list[Row], key: str, version: str) -> tuple[dict[Any, Row], dict[Any, Row]]:
    """The versions (by start) and deletions (by time) the rows of one record hold: a deletion is a row of
    its own or carried by the version it ended; a version folded into another is in its ``_folded_from``."""
    versions: dict[Any, Row] = {}
    deletions: dict[Any, Row] = {}
    carried: dict[Any, Row] = {}
    for row in rows:
        if is_deletion(row, version):
            deletions.setdefault(
                row[DELETED], {**row, VALID_FROM: row[DELETED], VALID_TO: None, CURRENT: False}
            )
            continue
        versions.setdefault(since(row, version), row)
        if row.get(DELETED) is not None and row.get(VALID_TO) is not None:  # the deletion it carries
            carried.setdefault(row[DELETED], _deletion_of(row, key, version))
        for folded in row.get(FOLDED) or ():  # a later version of the same content, folded into it
            versions.setdefault(folded, {**row, version: folded, FOLDED: None})
    return versions, {**carried, **deletions}  # a deletion's own row, where one is known, wins


def _deletion_of(row: Row, key: str, version: str) -> Row:
    """The row of the deletion a version carries, should it end no version any more (a deletion kept by
    ``deletion_rows=False`` only in the version it ended has no ``_record`` of its own)."""
    return {
        **dict.fromkeys(row),
        key: row[key],
        "_exported_at": row.get("_exported_at"),
        DELETED: row[DELETED],
        VALID_FROM: row[DELETED],
        CURRENT: False,
    }


def _kept(versions: dict[Any, Row], ends: list[Any], content: str) -> dict[Any, list[Any]]:
    """The versions that start a row (``content``: those whose content differs from the one before, or
    that follow a deletion), each with the starts of the versions of the same content it extends."""
    kept: dict[Any, list[Any]] = {}
    last: Any = None
    for start in sorted(versions):
        same = last is not None and versions[start].get(content) == versions[last].get(content)
        if same and not any(last <= d < start for d in ends):  # no deletion between them
            kept[last].append(start)
            continue
        kept[start] = []
        last = start
    return kept
