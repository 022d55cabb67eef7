"""History tables (``history=True``): every version of every record the exports saw, in Delta or Iceberg.

A row is one version of a record: its columns as exported, ``valid_from`` (its ``modified_date``),
``valid_to`` (the next version's, or the deletion that ended it), ``is_current`` and ``_deleted_at``
(the deletion that ended it). Deletions applied to a history table are rows of their own. An export
reads every row of the records it brings, decides their rows again from all the versions and deletions
known (:func:`~airflow_provider_akinon.exports.tables.versions.history_of`) and writes them in one
commit: so a version is never kept twice, a replayed or older window changes nothing, and a later window
never closes a newer version. Polling sees the versions that exist when a window is exported: two
changes of an order between two exports give one version (the event-driven DAG narrows that gap).
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial
from typing import Any

from airflow_provider_akinon.compat import ObjectStoragePath
from airflow_provider_akinon.errors import AkinonConfigError, ExportConsistencyError
from airflow_provider_akinon.exports.tables.current import table_schema
from airflow_provider_akinon.exports.tables.format import TableFormat, staged_chunks
from airflow_provider_akinon.exports.tables.versions import (
    CURRENT,
    DELETED,
    VALID_FROM,
    VALID_TO,
    Row,
    history_of,
    row_id,
)
from airflow_provider_akinon.resources import Resource

log = logging.getLogger(__name__)

MAX_ROUNDS = 5


def history_schema(resource: Resource) -> Any:
    """The current-state schema of ``resource`` plus ``valid_from``, ``valid_to`` and ``is_current``."""
    import pyarrow as pa

    stamp = pa.timestamp("us", tz="UTC")
    return (
        table_schema(resource)
        .append(pa.field(VALID_FROM, stamp, nullable=False))
        .append(pa.field(VALID_TO, stamp, nullable=True))
        .append(pa.field(CURRENT, pa.bool_(), nullable=False))
    )


def decided_rows(held: list[Row], coming: list[Row], key: str, version: str) -> list[Row]:
    """The rows of every record in ``coming``, decided again with what the table ``held`` of them; only
    those that differ from what it holds."""
    rows: dict[Any, list[Row]] = {}
    for row in [*held, *coming]:
        rows.setdefault(row[key], []).append(row)
    before = {_state(row, key, version) for row in held}
    return [
        row
        for record in rows.values()
        for row in history_of(record, version)
        if _state(row, key, version) not in before
    ]


def _state(row: Row, key: str, version: str) -> tuple:
    return (*row_id(row, key, version), row.get(VALID_TO), row.get(CURRENT), row.get(DELETED))


def merge_history(
    table_format: Any,
    resource: Resource,
    table: ObjectStoragePath,
    parts: list[ObjectStoragePath],
    exported_at: datetime,
) -> dict[str, Any]:
    """Add the staged versions to the history ``table`` (``table_format``'s), in one commit."""
    version = resource.version_field
    if not version:
        raise ExportConsistencyError(
            f"history=True keeps the versions of records; {resource.name} has no version field."
        )
    schema, key = table_schema(resource), resource.primary_key
    chunks = [(chunk.keys(key), partial(chunk.rows, exported_at, schema)) for chunk in staged_chunks(parts)]
    return write_history(table_format, resource, table, chunks)


def write_history(
    table_format: Any, resource: Resource, table: ObjectStoragePath, chunks: list[tuple[list[Any], Any]]
) -> dict:
    """
    Decide the rows of the records each chunk brings (its keys, and how to read its versions or deletions:
    an Arrow table) with what the table holds of them, one chunk in memory at a time, and write them all in
    one commit.
    """
    key, version = resource.primary_key, resource.version_field or ""
    schema = history_schema(resource)

    def decide(held: list[Row], n: int) -> list[Row]:
        return decided_rows(held, chunks[n][1]().to_pylist(), key, version)

    for attempt in range(1, MAX_ROUNDS + 1):
        done = table_format.rewrite(table, schema, (key, version), [keys for keys, _ in chunks], decide)
        if done is not None:
            log.info("History of %s in %s: %s", resource.name, table, done)
            return done
        log.warning("Another writer committed to %s first; deciding the history again (%d)", table, attempt)
    raise ExportConsistencyError(
        f"{table}: other writers kept committing first during {MAX_ROUNDS} attempts; the history is unchanged "
        "by this export. Retry it, or run fewer merges into one table at once (max_active_runs)."
    )


class History(TableFormat):
    """
    A table format's history table: exports land as versions (:func:`merge_history`) in the table of
    ``table_format`` (Delta or Iceberg), which decides how rows are read and written.

    :param table_format: the table format whose tables hold the history.
    """

    def __init__(self, table_format: Any) -> None:
        self.table_format = table_format
        self.name, self.needs = table_format.name, table_format.needs

    @classmethod
    def of(cls, file_format: Any) -> History:
        """The history table of ``file_format``; a format that is not a table has none."""
        if not file_format.table:
            raise AkinonConfigError(
                f"history=True keeps versions in a table: use file_format='delta' or 'iceberg', not "
                f"{file_format.name!r}."
            )
        return cls(file_format)

    def merge(
        self,
        resource: Resource,
        table: ObjectStoragePath,
        parts: list[ObjectStoragePath],
        exported_at: datetime,
    ) -> dict[str, Any]:
        """Add the staged versions to the history table, in one commit."""
        return merge_history(self.table_format, resource, table, parts, exported_at)

    def version(self, table: ObjectStoragePath) -> dict[str, Any]:
        """The history table's version."""
        return self.table_format.version(table)
