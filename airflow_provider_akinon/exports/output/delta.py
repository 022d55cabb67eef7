"""Delta Lake (``delta``): an export merged into a table in one commit; the newest version of a record wins.

``file_format="delta"`` stages the export as Parquet, as usual, then merges those files into the table
at ``destination`` in **one** Delta commit (delta-rs): upsert by the resource's key, a row replaced only
by a newer ``version_field`` (``modified_date``), so windows may run in any order and a backfill never
overwrites a newer version; a failed or killed export leaves the table at its previous version, and a
rerun of a window leaves the same current state. The merge streams the staged files in batches and
skips the table's files outside the changed keys (their statistics): memory follows the changes.

Concurrent writers: a commit is the creation of the next ``_delta_log/NNN.json``: an exclusive create on
local disks, a conditional ``If-None-Match`` PUT on S3 (``aws_conditional_put=etag``; AWS S3 has honoured
it since 2024, as do MinIO and R2). The merge that loses gets a commit conflict and is merged again on
the new version, up to five times.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from airflow_provider_akinon.compat import ObjectStoragePath
from airflow_provider_akinon.errors import AkinonConfigError, DestinationError, ExportConsistencyError
from airflow_provider_akinon.exports.output.parquet import Parquet, schema_for
from airflow_provider_akinon.exports.output.parts import PartFile
from airflow_provider_akinon.exports.output.pinned import pinned_copies
from airflow_provider_akinon.exports.output.storage import destination_path
from airflow_provider_akinon.exports.output.target import ExportTarget
from airflow_provider_akinon.resources import Resource, resource_named

log = logging.getLogger(__name__)

MAX_MERGES = 5


class Delta(Parquet):
    """Staged as Parquet, finished by a merge into the table at the destination (one commit)."""

    name = "delta"
    table = True
    needs = (("pyarrow", "delta"), ("deltalake", "delta"))

    def finish(
        self,
        target: ExportTarget,
        resource: Resource,
        parts: list[PartFile],
        manifest: dict[str, Any],
        now: datetime,
    ) -> dict[str, Any]:
        staged = [target.staging / part.name for part in parts if part.records]
        table = target.destination
        # nothing changed in the window: no merge, no new version
        merged = merge_into_table(resource, table, staged, now) if staged else table_version(table)
        return {**manifest, **merged, "files": []}

    def summarise(self, target: ExportTarget, manifest: dict[str, Any]) -> dict[str, Any]:
        """The table version this export wrote (the table's ``_delta_log`` is its manifest)."""
        return {
            "manifest": None,
            "files": 0,
            **{name: manifest[name] for name in ("table", "table_version", "inserted", "updated")},
        }


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
    """The Parquet export schema of ``resource`` plus ``_exported_at``."""
    import pyarrow as pa

    return schema_for(resource).append(pa.field("_exported_at", pa.timestamp("us", tz="UTC"), nullable=False))


def _source(parts: list[ObjectStoragePath], schema: Any, exported_at: datetime) -> Any:
    """The staged Parquet files as one stream of batches (a ``RecordBatchReader``) with ``_exported_at``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    def batches() -> Iterator[Any]:
        for part in parts:
            with part.fs.open(part.path, "rb") as handle:
                for batch in pq.ParquetFile(handle).iter_batches(batch_size=10_000):
                    stamp = pa.array([exported_at] * batch.num_rows, type=schema.field("_exported_at").type)
                    yield pa.RecordBatch.from_arrays([*batch.columns, stamp], schema=schema)

    return pa.RecordBatchReader.from_batches(schema, batches())


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


def _table(uri: str, schema: Any, options: dict[str, str]) -> Any:
    from deltalake import DeltaTable
    from deltalake.exceptions import DeltaError

    if DeltaTable.is_deltatable(uri, storage_options=options):
        return DeltaTable(uri, storage_options=options)
    try:
        return DeltaTable.create(uri, schema=schema, storage_options=options, mode="ignore")
    except DeltaError:  # another writer created it first
        return DeltaTable(uri, storage_options=options)


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


def merge_into_table(
    resource: Resource, table: ObjectStoragePath, parts: list[ObjectStoragePath], exported_at: datetime
) -> dict[str, Any]:
    """Upsert the staged ``parts`` into ``table`` in one commit; return the version and row counts."""
    from deltalake.exceptions import CommitFailedError

    uri, options = table_location(table)
    schema, key, version = table_schema(resource), resource.primary_key, resource.version_field
    # the newest version wins; a list whose records are never updated keeps the first one merged
    newer = f"t.{version} IS NULL OR s.{version} > t.{version}" if version else "false"
    predicate = f"t.{key} = s.{key}"
    bounds = _key_range(parts, key)
    if bounds:  # the table's files outside the changed keys are skipped by their statistics, not read
        predicate += f" AND t.{key} >= {int(bounds[0])} AND t.{key} <= {int(bounds[1])}"
    for attempt in range(1, MAX_MERGES + 1):
        delta = _table(uri, schema, options)
        try:
            metrics = (
                delta.merge(
                    _source(parts, schema, exported_at),
                    predicate=predicate,
                    source_alias="s",
                    target_alias="t",
                )
                .when_matched_update_all(predicate=newer)
                .when_not_matched_insert_all()
                .execute()
            )
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


def merge_export(export: Any, table: Any) -> dict[str, Any]:
    """
    Merge a published Parquet export (a partition of the changes feed) into the Delta table ``table``.

    The export's parts are copied out first, each checked against the manifest (sha256): a republish of
    the partition meanwhile cannot change what is merged.
    """
    folder = destination_path(export.get("uri") if isinstance(export, dict) else export)
    with tempfile.TemporaryDirectory(prefix="akinon-merge-") as scratch:
        manifest, copies = pinned_copies(folder, scratch)
        if manifest["format"] != "parquet":
            raise AkinonConfigError(
                f"{folder} holds {manifest['format']}; merge_export merges Parquet exports."
            )
        parts = [destination_path(copy) for copy in copies]
        exported_at = datetime.fromisoformat(manifest["created_at"])
        return merge_into_table(
            resource_named(manifest["resource"]), destination_path(table), parts, exported_at
        )


def maintain(table: Any, *, retention_days: float = 7) -> dict[str, Any]:
    """Compact small files of ``table`` and vacuum files unreferenced for longer than ``retention_days``."""
    from deltalake import DeltaTable

    uri, options = table_location(destination_path(table))
    delta = DeltaTable(uri, storage_options=options)
    compacted = delta.optimize.compact()
    # below the table's own retention (7 days by default) delta-rs asks for this to be said explicitly
    removed = delta.vacuum(
        retention_hours=int(retention_days * 24),
        dry_run=False,
        enforce_retention_duration=retention_days >= 7,
    )
    return {
        "table": uri,
        "table_version": delta.version(),
        "files_added": compacted.get("numFilesAdded", 0),
        "files_removed": compacted.get("numFilesRemoved", 0),
        "vacuumed": len(removed),
    }
