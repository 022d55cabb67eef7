"""Apache Iceberg (``iceberg``): an export merged into a table in one commit; the newest version of a record wins.

``file_format="iceberg"`` stages the export as Parquet, as usual, then merges it into the Iceberg table
at ``destination`` (:mod:`~airflow_provider_akinon.exports.tables.iceberg_table`: its catalog, and the
commit) by the rules a Delta table follows (:mod:`~airflow_provider_akinon.exports.tables.versions`):
upsert by key, a row replaced only by a newer ``version_field``, deletions kept as ``_deleted_at`` with
tombstones, so windows and deletions commute in any order and replayed. A failed or killed export leaves
the table's snapshot as it was. Snowflake, BigQuery, Athena, Trino, Spark and DuckDB read the table.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from airflow_provider_akinon.compat import ObjectStoragePath
from airflow_provider_akinon.exports.tables.current import table_schema
from airflow_provider_akinon.exports.tables.format import TableFormat, staged_chunks
from airflow_provider_akinon.exports.tables.history_options import GONE
from airflow_provider_akinon.exports.tables.iceberg_maintain import maintain_iceberg
from airflow_provider_akinon.exports.tables.iceberg_snapshot import commit
from airflow_provider_akinon.exports.tables.iceberg_table import (
    Keys,
    columns_at,
    is_iceberg,
    rows_of,
    table_version,
)
from airflow_provider_akinon.exports.tables.versions import DELETED, Row, deleted, merged, row_id
from airflow_provider_akinon.resources import Resource

log = logging.getLogger(__name__)


def rewrite_history(
    table: ObjectStoragePath, schema: Any, ids: tuple[str, str, Any], chunks: list[list[Any]], decide: Any
) -> dict[str, Any] | None:
    """
    Read the rows of the records of each chunk of keys of a history table, let ``decide(held, chunk)`` say
    which rows are new or changed (and which it holds no more: ``_gone``), and write the records' rows so,
    every chunk in one commit; ``ids``: the key and version fields and the table's
    :class:`~.history_options.HistoryOptions` (a row is identified by :func:`~.versions.row_id`).
    """
    key, version, layout = ids
    counts = {"inserted": 0, "updated": 0}

    def rid(row: Row) -> tuple:
        return row_id(layout.inward(row), key, version)

    def decided(iceberg: Any) -> Iterator[tuple[list[Row], Keys | None]]:
        counts.update(inserted=0, updated=0)
        for n, chunk in enumerate(chunks):  # one chunk of records in memory at a time
            held = rows_of(iceberg, Keys(key, tuple(chunk)))
            rows = decide(held, n)
            gone = {rid(row) for row in rows if row.get(GONE)}
            rows = [row for row in rows if not row.get(GONE)]
            new = {rid(row) for row in rows}
            before = {rid(row) for row in held}
            touched = {row[key] for row in rows} | {k for k, *_ in gone}
            kept = [r for r in held if r[key] in touched and rid(r) not in new | gone]
            counts["inserted"] += len(new - before)
            counts["updated"] += len(new & before)
            replaced = tuple(sorted(touched & {row[key] for row in held}))
            yield ([*kept, *rows] if touched else []), (Keys(key, replaced) if replaced else None)

    result = commit(table, schema, decided, "writing the history")
    result.pop("rows", None)
    return {**result, **counts}


def merge_into_iceberg(
    resource: Resource, table: ObjectStoragePath, parts: list[ObjectStoragePath], exported_at: datetime
) -> dict[str, Any]:
    """
    Upsert the staged ``parts`` into the Iceberg ``table`` in one commit; return its version and counts.

    The records stay in Arrow, a chunk of whole row groups at a time (:func:`~.format.staged_chunks`): only
    their key, version and parent are read into Python to decide each one by the rules of
    :mod:`.versions`, and the rows written are taken from the staged ones: memory follows a chunk, not the
    export.
    """
    schema = table_schema(resource)
    key, version, parent = resource.primary_key, resource.version_field, resource.parent_field
    chunks = staged_chunks(parts)
    counts = {"inserted": 0, "updated": 0, "staged": 0}

    def decide(iceberg: Any) -> Iterator[tuple[Any, Keys | None]]:
        counts.update(inserted=0, updated=0, staged=0)
        for chunk in chunks:
            source = chunk.rows(exported_at, schema)
            rows, replaced = _decided(iceberg, source, (key, version, parent), counts)
            yield rows, Keys(key, replaced) if replaced else None

    result = commit(table, schema, decide, "merging")
    staged = counts.pop("staged")
    result = {**result, **counts, "unchanged": staged - counts["inserted"] - counts["updated"]}
    result.pop("rows", None)
    log.info("Merged %s into %s: %s", resource.name, table, result)
    return result


def _decided(
    iceberg: Any, source: Any, fields: tuple[str, str | None, str | None], counts: dict[str, int]
) -> tuple[Any, tuple[Any, ...]]:
    """The rows of ``source`` (a chunk of staged records) that change the table, with their deletion marks,
    and the keys they replace; ``counts`` gain what was decided."""
    import pyarrow as pa

    key, version, parent = fields
    heads = source.select([name for name in fields if name]).to_pylist()
    wanted = [name for name in (key, version, parent, DELETED) if name]
    held = {r[key]: r for r in rows_of(iceberg, Keys(key, tuple(h[key] for h in heads)), wanted)}
    if parent:  # and the deletions this table of children remembers of their parents
        parents = tuple(sorted({h[parent] for h in heads}))
        held |= {r[key]: r for r in rows_of(iceberg, Keys(parent, parents), wanted) if r[key] < 0}
    known = {r[parent]: r[DELETED] for r in held.values() if parent and r[key] < 0}
    decided: dict[int, tuple[int, Any]] = {}  # key -> (the staged row, its deletion mark)
    for n, head in enumerate(heads):
        mark = known.get(head[parent]) if parent else None
        if mark is not None and version and head.get(version) is not None and mark < head[version]:
            mark = None  # a version newer than its parent's deletion lives
        taken = decided.get(head[key])
        now = {**heads[taken[0]], DELETED: taken[1]} if taken else held.get(head[key])
        new = merged(now, {**head, DELETED: mark}, version)
        if new is not None:
            decided[head[key]] = (n, new[DELETED])
    rows = source.take(pa.array([n for n, _ in decided.values()], pa.int64()))
    marks = pa.array([mark for _, mark in decided.values()], source.schema.field(DELETED).type)
    rows = rows.set_column(rows.schema.get_field_index(DELETED), DELETED, marks)
    replaced = tuple(k for k in decided if k in held)
    counts["inserted"] += len(decided) - len(replaced)
    counts["updated"] += len(replaced)
    counts["staged"] += len(heads)
    return rows, replaced


def apply_iceberg_deletions(
    source: list[Row], table: ObjectStoragePath, match: str, schema: Any | None
) -> dict[str, Any]:
    """Mark the rows ``source`` (deletions, as :mod:`.deletions` reads them) names, in one commit."""
    counts: dict[str, int] = {"deleted": 0, "tombstones": 0}

    def decide(iceberg: Any) -> Iterator[tuple[list[Row], Keys | None]]:
        names = iceberg.schema().as_arrow().names
        key = names[0]  # the table's key leads its columns (schema_for)
        version = "modified_date" if "modified_date" in names else None
        ids = tuple(sorted({s["object_id"] for s in source}))
        if match == key:
            held = rows_of(iceberg, Keys(key, ids))
        else:  # the rows of the deleted parents, and their tombstones
            held = [r for r in rows_of(iceberg, Keys(match, ids)) if r[key] >= 0]
            held += rows_of(iceberg, Keys(key, tuple(-i for i in ids)))
        decided: dict[int, Row] = {}
        new_tombs: set[int] = set()
        for s in source:
            if s["kind"] == "rows":
                targets = [r for r in held if r[match] == s["object_id"] and r[key] >= 0]
            else:
                targets = [r for r in held if r[key] == s["tomb_key"]]
            for row in targets:
                new = deleted(decided.get(row[key], row), s["d"], version)
                if new is not None:
                    decided[row[key]] = new
            if not targets and s["kind"] == "tomb" and s["tomb_key"] not in decided:
                decided[s["tomb_key"]] = _tombstone(names, key, match, s)
                new_tombs.add(s["tomb_key"])
        counts.update(deleted=len(decided) - len(new_tombs), tombstones=len(new_tombs))
        replaced = tuple(k for k in decided if k not in new_tombs)
        yield list(decided.values()), Keys(key, replaced) if replaced else None

    result = commit(table, schema, decide, "applying deletions")
    result.pop("rows", None)
    return {**result, **counts}


def _tombstone(names: list[str], key: str, match: str, deletion: Row) -> Row:
    """The row that remembers a deletion of a record (or of a parent) no merge has brought yet."""
    row: Row = dict.fromkeys(names)
    row.update({key: deletion["tomb_key"], DELETED: deletion["d"], "_record": deletion["record"]})
    row["_exported_at"] = deletion["exported_at"]
    if match != key:
        row[match] = deletion["object_id"]
    return row


class Iceberg(TableFormat):
    """Staged as Parquet, finished by a merge into the Iceberg table at the destination (one commit)."""

    name = "iceberg"
    needs = (("pyarrow", "iceberg"), ("pyiceberg", "iceberg"))
    merge = staticmethod(merge_into_iceberg)
    version = staticmethod(table_version)
    rewrite = staticmethod(rewrite_history)
    holds = staticmethod(is_iceberg)
    columns = staticmethod(columns_at)
    maintain = staticmethod(maintain_iceberg)
