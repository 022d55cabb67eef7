"""The rules of a current-state table, row by row: which version of a record a row holds, and its deletion.

A row holds the newest version of a record (its ``version_field``) and ``_deleted_at``: the newest
deletion of it that is not older than that version. Applied in any order, any number of times, merges
and deletions leave the same rows. The Delta table writes these rules as its merge's SQL
(:func:`~airflow_provider_akinon.exports.output.current.version_rules`,
:mod:`~airflow_provider_akinon.exports.output.deletions`); tables merged in Python (Iceberg) call these
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
