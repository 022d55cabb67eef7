"""The current state of a list in a Delta table: each record's newest version, and whether it was deleted.

A row holds the newest version of one record the exports saw (its ``version_field``, ``modified_date``)
and ``_deleted_at``: the newest deletion of it Akinon listed (``deleted_items``) that is not older than
that version, or ``NULL`` while the record lives. A deletion of a record no export has brought yet is
a tombstone row: its key, ``_deleted_at``, and the deletion itself in ``_record``. So merging windows
and applying deletions commute: in whatever order, and however often each runs, a row ends as (newest
version, newest deletion not older than it). **Live rows: ``WHERE _deleted_at IS NULL``.**

Items and discounts follow their order: deleting an order marks the rows of its items, and a tombstone
row (key ``-order``, the ``order`` column the order's id) remembers it, so an item of it merged later
is marked as it lands, in the same commit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from airflow_provider_akinon.compat import ObjectStoragePath
from airflow_provider_akinon.errors import DestinationError, ExportConsistencyError
from airflow_provider_akinon.exports.formats.parquet import schema_for
from airflow_provider_akinon.resources import Resource

log = logging.getLogger(__name__)

MAX_MERGES = 5
DELETED = "_deleted_at"


def q(column: str) -> str:
    """A column name in Delta's SQL (``order`` is a keyword)."""
    return f'"{column}"'


def table_location(table: ObjectStoragePath) -> tuple[str, dict[str, str]]:
    """The table's URI for delta-rs, and its storage options (credentials of the Airflow connection)."""
    protocol = table.protocol or "file"
    if protocol in ("file", "local"):
        return table.path, {}
    if protocol in ("s3", "s3a"):
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        conn_id = getattr(table, "conn_id", None) or (table.storage_options or {}).get("conn_id")
        hook = S3Hook(aws_conn_id=conn_id or "aws_default")
        credentials = hook.get_credentials()
        if credentials is None or not credentials.access_key:
            raise DestinationError(
                f"Cannot merge into {table}: the connection {conn_id or 'aws_default'!r} has no credentials. "
                "Name a connection that has them in the URI (s3://<aws_conn_id>@bucket/prefix/), or give "
                "the worker a role."
            )
        endpoint = hook.conn_config.get_service_endpoint_url(service_name="s3")
        options = {
            "AWS_ACCESS_KEY_ID": credentials.access_key,
            "AWS_SECRET_ACCESS_KEY": credentials.secret_key,
            "AWS_SESSION_TOKEN": credentials.token,
            "AWS_REGION": hook.conn_region_name or "us-east-1",
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ALLOW_HTTP": "true" if endpoint and endpoint.startswith("http://") else None,
            "aws_conditional_put": "etag",  # safe concurrent commits without a DynamoDB lock
            "timeout": "30s",
        }
        return f"s3://{table.path}", {k: v for k, v in options.items() if v}
    raise DestinationError(
        f"file_format='delta' writes to file:// or s3:// tables; {table} is {protocol}://. Export Parquet there "
        "instead, or choose an s3:// or local destination."
    )


def table_schema(resource: Resource) -> Any:
    """The Parquet export schema of ``resource`` plus ``_exported_at`` and ``_deleted_at``."""
    import pyarrow as pa

    stamp = pa.timestamp("us", tz="UTC")
    return (
        schema_for(resource)
        .append(pa.field("_exported_at", stamp, nullable=False))
        .append(pa.field(DELETED, stamp, nullable=True))
    )


def open_table(uri: str, schema: Any, options: dict[str, str]) -> Any:
    """The table at ``uri``, created if there is none; one merged before 0.4 gains ``_deleted_at``."""
    from deltalake import DeltaTable, Field
    from deltalake.exceptions import DeltaError
    from deltalake.schema import PrimitiveType

    if not DeltaTable.is_deltatable(uri, storage_options=options):
        try:
            return DeltaTable.create(uri, schema=schema, storage_options=options, mode="ignore")
        except DeltaError:  # another writer created it first
            pass
    table = DeltaTable(uri, storage_options=options)
    if DELETED not in table.schema().to_arrow().names:
        table.alter.add_columns([Field(DELETED, PrimitiveType("timestamp"), nullable=True)])
    return table


def _parts_column(parts: list[ObjectStoragePath], column: str) -> list[int]:
    import pyarrow.parquet as pq

    found: set[int] = set()
    for part in parts:
        with part.fs.open(part.path, "rb") as handle:
            found.update(pq.read_table(handle, columns=[column]).column(column).to_pylist())
    return sorted(found)


def tombstones(table: Any, resource: Resource, parents: list[int]) -> dict[int, Any]:
    """The deletions a table of children (items) remembers of these parents (orders): order -> when."""
    import pyarrow.compute as pc

    match = resource.parent_field or ""
    if not parents:
        return {}
    found = table.to_pyarrow_dataset().to_table(
        columns=[match, DELETED],
        filter=(pc.field(resource.primary_key) < 0) & pc.field(match).isin(parents),
    )
    return dict(zip(found.column(match).to_pylist(), found.column(DELETED).to_pylist(), strict=True))


def _source(
    parts: list[ObjectStoragePath], schema: Any, exported_at: datetime, marked: Callable[[Any], Any]
) -> Any:
    """The staged Parquet files (a table format's staging, or a published typed export) as one stream of
    batches of the table's columns with ``_exported_at``, and ``_deleted_at`` from ``marked(batch)`` (the
    deletions known of their parents)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    staged = [field for field in schema if field.name not in ("_exported_at", DELETED)]

    def batches() -> Iterator[Any]:
        for part in parts:  # the table's columns, by name: a typed export has more, in its own order
            with part.fs.open(part.path, "rb") as handle:
                read = pq.ParquetFile(handle).iter_batches(
                    batch_size=10_000, columns=[f.name for f in staged]
                )
                for batch in read:
                    stamp = pa.array([exported_at] * batch.num_rows, type=schema.field("_exported_at").type)
                    columns = [batch.column(f.name).cast(f.type) for f in staged]
                    yield pa.RecordBatch.from_arrays([*columns, stamp, marked(batch)], schema=schema)

    return pa.RecordBatchReader.from_batches(schema, batches())


def _marker(resource: Resource, schema: Any, known: dict[int, Any]) -> Callable[[Any], Any]:
    """``_deleted_at`` of each row of a batch: its parent's deletion where that is not older than the row."""
    import pyarrow as pa

    kind = schema.field(DELETED).type
    version, parent = resource.version_field, resource.parent_field

    def marked(batch: Any) -> Any:
        if not known or parent is None:
            return pa.nulls(batch.num_rows, type=kind)
        parents = batch.column(batch.schema.get_field_index(parent)).to_pylist()
        versions = (
            batch.column(batch.schema.get_field_index(version)).to_pylist()
            if version
            else [None] * len(parents)
        )
        return pa.array(
            [
                known[p] if p in known and (v is None or known[p] >= v) else None
                for p, v in zip(parents, versions, strict=True)
            ],
            type=kind,
        )

    return marked


def _key_range(parts: list[ObjectStoragePath], key: str) -> tuple[int, int] | None:
    """The smallest and largest ``key`` of the staged files, from their Parquet statistics."""
    import pyarrow.parquet as pq

    lows, highs = [], []
    for part in parts:
        with part.fs.open(part.path, "rb") as handle:
            metadata = pq.ParquetFile(handle).metadata
        column = metadata.schema.names.index(key)
        for group in range(metadata.num_row_groups):
            stats = metadata.row_group(group).column(column).statistics
            if stats is None or not stats.has_min_max:
                return None
            lows.append(stats.min)
            highs.append(stats.max)
    return (min(lows), max(highs)) if lows else None


def merge_predicate(resource: Resource, parts: list[ObjectStoragePath], parents: list[int]) -> str:
    """Rows match by key; the table's files outside the changed keys (and, for items, outside their orders'
    tombstones, which a concurrent deletion may be adding) are skipped by their statistics."""
    key = q(resource.primary_key)
    predicate = f"t.{key} = s.{key}"
    bounds = _key_range(parts, resource.primary_key)
    if bounds:
        within = f"(t.{key} >= {int(bounds[0])} AND t.{key} <= {int(bounds[1])})"
        if parents:
            within = f"({within} OR (t.{key} >= {-parents[-1]} AND t.{key} <= {-parents[0]}))"
        predicate += f" AND {within}"
    return predicate


def version_rules(resource: Resource, schema: Any) -> tuple[str, dict[str, str]]:
    """When a row takes the source's version, and what it then holds (its deletion kept if not older)."""
    version = resource.version_field
    if not version:  # a list whose records are never updated keeps the first one merged
        return "false", {}
    newer = f"t.{q(version)} IS NULL OR s.{q(version)} > t.{q(version)}"
    updates = {q(name): f"s.{q(name)}" for name in schema.names if name != DELETED}
    updates[DELETED] = (
        f"CASE WHEN t.{DELETED} >= s.{q(version)} AND (s.{DELETED} IS NULL OR t.{DELETED} > s.{DELETED}) "
        f"THEN t.{DELETED} ELSE s.{DELETED} END"
    )
    return newer, updates


def merge_into_table(
    resource: Resource, table: ObjectStoragePath, parts: list[ObjectStoragePath], exported_at: datetime
) -> dict[str, Any]:
    """Upsert the staged ``parts`` into ``table`` in one commit; return the version and row counts."""
    from deltalake.exceptions import CommitFailedError

    uri, options = table_location(table)
    schema = table_schema(resource)
    parents = _parts_column(parts, resource.parent_field) if resource.parent_field else []
    predicate = merge_predicate(resource, parts, parents)
    newer, updates = version_rules(resource, schema)
    for attempt in range(1, MAX_MERGES + 1):
        delta = open_table(uri, schema, options)
        marked = _marker(resource, schema, tombstones(delta, resource, parents))
        merger = delta.merge(_source(parts, schema, exported_at, marked), predicate, "s", "t")
        if updates:
            merger = merger.when_matched_update(updates, predicate=newer)
        try:
            metrics = merger.when_not_matched_insert_all().execute()
        except CommitFailedError as err:
            log.warning("Another writer committed to %s first (%s); merging again (%d)", uri, err, attempt)
            continue
        result = {
            "table": uri,
            "table_version": delta.version(),
            "inserted": metrics.get("num_target_rows_inserted", 0),
            "updated": metrics.get("num_target_rows_updated", 0),
            "unchanged": metrics.get("num_target_rows_copied", 0),
        }
        log.info("Merged %s into %s: %s", resource.name, uri, result)
        return result
    raise ExportConsistencyError(
        f"{uri}: other writers kept committing first during {MAX_MERGES} merges; the table is unchanged by this "
        "export. Retry it, or run fewer merges into one table at once (max_active_runs)."
    )
