"""History tables (``history=True``): every version of every record the exports saw, in Delta or Iceberg.

A row is one version of a record: its columns as exported, ``valid_from`` (its ``modified_date``),
``valid_to`` (the next version's, or the deletion that ended it), ``is_current`` and ``_deleted_at``
(the deletion that ended it). Deletions applied to a history table are rows of their own. The names, the
open end, what makes a version and the deletions' rows are options (:mod:`.history_options`). An export
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
from airflow_provider_akinon.exports.tables.history_options import (
    CONTENT,
    FOLDED,
    GONE,
    HistoryOptions,
    content_hash,
)
from airflow_provider_akinon.exports.tables.tombstones import parents_deleted
from airflow_provider_akinon.exports.tables.versions import (
    CURRENT,
    DELETED,
    VALID_TO,
    Row,
    history_of,
    is_deletion,
    row_id,
)
from airflow_provider_akinon.resources import Resource

log = logging.getLogger(__name__)

MAX_ROUNDS = 5


def history_schema(resource: Resource, options: HistoryOptions | None = None) -> Any:
    """The current-state schema of ``resource`` plus the validity columns (``valid_from``, ``valid_to``,
    ``is_current``) and, where versions are told by content, the content's hash and the starts folded."""
    import pyarrow as pa

    options = options or HistoryOptions()
    stamp = pa.timestamp("us", tz="UTC")
    schema = (
        table_schema(resource)
        .append(pa.field(options.valid_from, stamp, nullable=False))
        .append(pa.field(options.valid_to, stamp, nullable=True))
        .append(pa.field(options.is_current, pa.bool_(), nullable=False))
    )
    if options.content:
        schema = schema.append(pa.field(CONTENT, pa.string())).append(pa.field(FOLDED, pa.list_(stamp)))
    return schema


def decided_rows(
    held: list[Row], coming: list[Row], key: str, version: str, options: HistoryOptions | None = None
) -> list[Row]:
    """
    The rows of every record in ``coming``, decided again with what the table ``held`` of them (both in the
    table's names); only those that differ from what it holds, and those it holds that the rules no longer
    decide, marked ``_gone``.
    """
    options = options or HistoryOptions()
    content = CONTENT if options.content else None
    rows: dict[Any, list[Row]] = {}
    before: dict[tuple, Row] = {}  # what the table holds, by its state in the rules' names
    for row in held:
        inward = options.inward(row)
        rows.setdefault(row[key], []).append(inward)
        before[_state(inward, key, version)] = row
    for row in coming:
        if content and not is_deletion(row, version):
            row = {**row, CONTENT: content_hash(row, version)}
        rows.setdefault(row[key], []).append(row)
    decided, kept = [], set()
    for record in rows.values():
        for row in history_of(record, version, key=key, content=content, deletion_rows=options.deletion_rows):
            kept.add(row_id(row, key, version))
            if _state(row, key, version) not in before:
                decided.append(options.outward(row))
    gone = [row for state, row in before.items() if tuple(state[:3]) not in kept]
    return decided + [{**row, GONE: True} for row in gone]


def _state(row: Row, key: str, version: str) -> tuple:
    folded = tuple(row.get(FOLDED) or ())
    return (*row_id(row, key, version), row.get(VALID_TO), row.get(CURRENT), row.get(DELETED), folded)


def merge_history(
    table_format: Any,
    resource: Resource,
    table: ObjectStoragePath,
    parts: list[ObjectStoragePath],
    exported_at: datetime,
    options: HistoryOptions | None = None,
) -> dict[str, Any]:
    """Add the staged versions to the history ``table`` (``table_format``'s), in one commit."""
    version = resource.version_field
    if not version:
        raise ExportConsistencyError(
            f"history=True keeps the versions of records; {resource.name} has no version field."
        )
    schema, key = table_schema(resource), resource.primary_key
    chunks = [(chunk.keys(key), partial(chunk.rows, exported_at, schema)) for chunk in staged_chunks(parts)]
    return write_history(table_format, resource, table, chunks, options)


def write_history(
    table_format: Any,
    resource: Resource,
    table: ObjectStoragePath,
    chunks: list[tuple[list[Any], Any]],
    options: HistoryOptions | None = None,
) -> dict:
    """
    Decide the rows of the records each chunk brings (its keys, and how to read its versions or deletions:
    an Arrow table) with what the table holds of them, one chunk in memory at a time, and write them all in
    one commit.
    """
    options = options or HistoryOptions()
    key, version = resource.primary_key, resource.version_field or ""
    schema = history_schema(resource, options)
    options.check(table_format.columns(table))

    def decide(held: list[Row], n: int) -> list[Row]:
        coming = chunks[n][1]().to_pylist()
        if resource.parent_field:
            coming += retired(table_format, table, resource, coming)
        return decided_rows(held, coming, key, version, options)

    for attempt in range(1, MAX_ROUNDS + 1):
        done = table_format.rewrite(table, schema, (key, version, options), [k for k, _ in chunks], decide)
        if done is not None:
            log.info("History of %s in %s: %s", resource.name, table, done)
            return done
        log.warning("Another writer committed to %s first; deciding the history again (%d)", table, attempt)
    raise ExportConsistencyError(
        f"{table}: other writers kept committing first during {MAX_ROUNDS} attempts; the history is unchanged "
        "by this export. Retry it, or run fewer merges into one table at once (max_active_runs)."
    )


def retired(table_format: Any, table: ObjectStoragePath, resource: Resource, coming: list[Row]) -> list[Row]:
    """The deletions of the children in ``coming`` whose parent's deletion the table holds (a tombstone
    left by ``apply_deletions(..., match=<parent>)``): each child deleted when its parent was, as if it had
    been in the table then."""
    key, parent = resource.primary_key, resource.parent_field or ""
    children = [
        row for row in coming if row.get(key) is not None and row[key] >= 0 and row.get(parent) is not None
    ]
    deleted = parents_deleted(table_format, table, key, parent, sorted({row[parent] for row in children}))
    return [
        {
            key: row[key],
            DELETED: tomb[DELETED],
            "_record": tomb["_record"],
            "_exported_at": tomb["_exported_at"],
        }
        for row in children
        for tomb in deleted.get(row[parent], [])
    ]


class History(TableFormat):
    """
    A table format's history table: exports land as versions (:func:`merge_history`) in the table of
    ``table_format`` (Delta or Iceberg), which decides how rows are read and written.

    :param table_format: the table format whose tables hold the history.
    :param options: the table's layout (:class:`~.history_options.HistoryOptions`; default: ``history=True``'s).
    """

    def __init__(self, table_format: Any, options: HistoryOptions | None = None) -> None:
        self.table_format = table_format
        self.options = options or HistoryOptions()
        self.name, self.needs = table_format.name, table_format.needs

    @classmethod
    def of(cls, file_format: Any, history: Any = True) -> History:
        """The history table of ``file_format`` laid out as ``history`` says (``True``, a dict of options or
        :class:`~.history_options.HistoryOptions`); a format that is not a table has none."""
        if not file_format.table:
            raise AkinonConfigError(
                f"history=True keeps versions in a table: use file_format='delta' or 'iceberg', not "
                f"{file_format.name!r}."
            )
        return cls(file_format, HistoryOptions.of(history))

    def merge(
        self,
        resource: Resource,
        table: ObjectStoragePath,
        parts: list[ObjectStoragePath],
        exported_at: datetime,
    ) -> dict[str, Any]:
        """Add the staged versions to the history table, in one commit."""
        return merge_history(self.table_format, resource, table, parts, exported_at, self.options)

    def version(self, table: ObjectStoragePath) -> dict[str, Any]:
        """The history table's version."""
        return self.table_format.version(table)
