"""Delta Lake (``delta``): an export merged into a table in one commit; the newest version of a record wins.

``file_format="delta"`` stages the export as Parquet, as usual, then merges those files into the table
at ``destination`` in **one** Delta commit (delta-rs): upsert by the resource's key, a row replaced only
by a newer ``version_field`` (``modified_date``), so windows may run in any order and a backfill never
overwrites a newer version; deletions are kept as ``_deleted_at`` (tombstones), so they commute with
merges (:mod:`~airflow_provider_akinon.exports.tables.current`); a failed or killed export leaves the
table at its previous version, and a rerun of a window leaves the same current state. The merge streams
the staged files in batches and skips the table's files outside the changed keys (their statistics):
memory follows the changes.

Concurrent writers: a commit is the creation of the next ``_delta_log/NNN.json``: an exclusive create on
local disks, a conditional ``If-None-Match`` PUT on S3 (``aws_conditional_put=etag``; AWS S3 has honoured
it since 2024, as do MinIO and R2). The merge that loses gets a commit conflict and is merged again on
the new version, up to five times.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Iterator
from typing import Any

from airflow_provider_akinon.compat import ObjectStoragePath
from airflow_provider_akinon.exports.commit.storage import DELTA_LOG
from airflow_provider_akinon.exports.tables.current import merge_into_table, open_table, q, table_location
from airflow_provider_akinon.exports.tables.delta_maintain import add_file, maintain_delta
from airflow_provider_akinon.exports.tables.format import TableFormat
from airflow_provider_akinon.exports.tables.history_options import GONE, HistoryOptions

log = logging.getLogger(__name__)

__all__ = ["Delta", "maintain_delta", "merge_into_table", "table_location", "table_version"]


def rewrite_history(
    table: ObjectStoragePath, schema: Any, ids: tuple[str, str, Any], chunks: list[list[Any]], decide: Any
) -> dict[str, Any] | None:
    """
    For each chunk of keys of a history table, read the rows of those records and let ``decide(held,
    chunk)`` say which rows are new or changed (or ``_gone``); merge them all in one commit, streamed
    chunk by chunk, matched by :func:`~.versions.row_id` (``ids``: the key, the version field and the
    table's :class:`~.history_options.HistoryOptions`). ``None``: another writer committed since the rows
    were read (the commit failed, or landed after another), so they must be decided again.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    from deltalake.exceptions import CommitFailedError

    (key, _, layout), uri, options = ids, *table_location(table)
    delta = open_table(uri, schema, options)
    read_at, dataset = delta.version(), delta.to_pyarrow_dataset()
    source_schema = schema.append(pa.field(GONE, pa.bool_()))

    def batches() -> Iterator[Any]:
        for n, chunk in enumerate(chunks):  # one chunk of records in memory at a time
            rows = decide(dataset.to_table(filter=pc.field(key).isin(chunk)).to_pylist(), n)
            if rows:
                yield pa.RecordBatch.from_pylist([{GONE: False, **row} for row in rows], schema=source_schema)

    decided = batches()
    first = next(decided, None)
    if first is None:
        return {"table": uri, "table_version": read_at, "inserted": 0, "updated": 0}
    source = pa.RecordBatchReader.from_batches(source_schema, itertools.chain([first], decided))
    if not delta.file_uris():  # an empty table: every row decided is new
        return _first_rows(delta, table, schema, source, (key, uri))
    try:
        metrics = (
            delta.merge(source, _same_row(key, layout), "s", "t")
            .when_matched_delete(f"s.{GONE}")
            .when_matched_update_all(f"NOT s.{GONE}", except_cols=[GONE])
            .when_not_matched_insert_all(f"NOT s.{GONE}", except_cols=[GONE])
            .execute()
        )
    except CommitFailedError:
        return None
    if delta.version() != read_at + 1:  # another commit landed between the read and this one
        return None
    return {
        "table": uri,
        "table_version": delta.version(),
        "inserted": metrics.get("num_target_rows_inserted", 0),
        "updated": metrics.get("num_target_rows_updated", 0),
    }


def _first_rows(delta: Any, table: ObjectStoragePath, schema: Any, source: Any, names: tuple) -> dict | None:
    """The first rows of an empty history table, each decided chunk written as a file of its own and all
    added in one commit: memory follows a chunk (delta-rs's merge held its whole source, and its writer
    too: 1.1 GB for a first load of 1,000,000 orders). Committed only as the version after the one
    ``delta`` read (no retry at a later one): ``None`` if another writer came first, so the rows are
    decided again against its (the files written stay unreferenced: the vacuum removes them). ``names``:
    the key and the table's URI."""
    import pyarrow as pa
    from deltalake import CommitProperties
    from deltalake.exceptions import CommitFailedError

    key, uri = names
    actions = [
        add_file(table, pa.Table.from_batches([b]).select(schema.names), key, data_change=True)
        for b in source
    ]
    try:
        delta.create_write_transaction(
            actions,
            mode="append",
            schema=delta.schema(),
            commit_properties=CommitProperties(max_commit_retries=0),
        )
    except CommitFailedError:
        return None
    delta.update_incremental()
    inserted = sum(json.loads(action.stats)["numRecords"] for action in actions)
    return {"table": uri, "table_version": delta.version(), "inserted": inserted, "updated": 0}


def _same_row(key: str, layout: HistoryOptions) -> str:
    """The merge predicate of a history row: its record, its start, and whether it is a version (current,
    or ended) or a deletion's own row (:func:`~.versions.is_deletion`)."""
    start = q(layout.valid_from)

    def kept(side: str) -> str:
        return f"({side}.{q(layout.is_current)} OR {side}.{q(layout.valid_to)} IS NOT NULL)"

    return f"t.{q(key)} = s.{q(key)} AND t.{start} = s.{start} AND {kept('t')} = {kept('s')}"


def table_version(table: ObjectStoragePath) -> dict[str, Any]:
    """The table's current version (``None`` before its first merge), for an export that merged nothing."""
    from deltalake import DeltaTable

    uri, options = table_location(table)
    version = (
        DeltaTable(uri, storage_options=options).version()
        if DeltaTable.is_deltatable(uri, storage_options=options)
        else None
    )
    return {"table": uri, "table_version": version, "inserted": 0, "updated": 0, "unchanged": 0}


def holds_delta(table: ObjectStoragePath) -> bool:
    """Whether ``table`` holds a Delta table (its ``_delta_log/``)."""
    return (table / DELTA_LOG).exists()


def delta_columns(table: ObjectStoragePath) -> list[str] | None:
    """The columns of the Delta table at ``table`` (``None``: none there yet)."""
    if not holds_delta(table):
        return None
    from deltalake import DeltaTable

    uri, options = table_location(table)
    return list(DeltaTable(uri, storage_options=options).schema().to_arrow().names)


class Delta(TableFormat):
    """
    Staged as Parquet, finished by a merge into the Delta table at the destination (one commit);
    :func:`maintain_delta` compacts the table's small files and vacuums the old ones.
    """

    name = "delta"
    needs = (("pyarrow", "delta"), ("deltalake", "delta"))
    merge = staticmethod(merge_into_table)
    version = staticmethod(table_version)
    rewrite = staticmethod(rewrite_history)
    holds = staticmethod(holds_delta)
    columns = staticmethod(delta_columns)
    maintain = staticmethod(maintain_delta)
