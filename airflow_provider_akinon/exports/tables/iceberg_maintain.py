"""Keeping an Iceberg table fast for years: small files compacted, old snapshots expired, orphan files removed.

An hourly feed makes 8,760 commits a year, each adding a data file, a manifest, a manifest list and a
metadata file: left alone, every merge plans over more manifests and reads more small files than the one
before. :func:`maintain_iceberg` (what ``maintain()`` runs on an Iceberg table) does what Iceberg's own
maintenance actions do, in this order:

1. **compact**: the rows of the live data files not yet settled are sorted by key and rewritten as
   :class:`~.layout.Layout` cuts them (the newest keys in the smallest files, where the merges land), in
   one snapshot of the same rows (a reader sees no change);
2. **expire** the snapshots older than ``retention_days`` (never the current one): time travel reaches
   back that far, no further;
3. **remove orphans**: files under the table's ``data/`` and ``metadata/`` that no remaining snapshot,
   manifest or metadata file references, and older than ``retention_days`` (a merge still writing its
   files is younger than that).

A merge committing meanwhile makes the compaction's commit fail (these tables commit without retries):
the compaction is skipped for this round and the rest goes on.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow_provider_akinon.compat import ObjectStoragePath
from airflow_provider_akinon.exports.commit.storage import destination_path
from airflow_provider_akinon.exports.tables.iceberg_snapshot import Rewrite, transaction
from airflow_provider_akinon.exports.tables.iceberg_table import open_table, provider_properties
from airflow_provider_akinon.exports.tables.layout import Layout

log = logging.getLogger(__name__)


def maintain_iceberg(
    table: Any, *, retention_days: float = 7, layout: Layout | None = None
) -> dict[str, Any]:
    """Compact the small files of the Iceberg ``table`` by key, expire its snapshots older than
    ``retention_days`` and remove the files no snapshot references any longer; return what was done."""
    at = destination_path(table)
    iceberg = provider_properties(open_table(at, None))
    added, removed = _compact(iceberg, layout or Layout())
    cutoff = datetime.now(UTC) - timedelta(days=retention_days)
    expired = _expire(iceberg, cutoff)
    orphans = _remove_orphans(at, iceberg, cutoff)
    snapshot = iceberg.current_snapshot()
    return {
        "table": iceberg.location(),
        "table_version": snapshot.sequence_number if snapshot is not None else None,
        "files_added": added,
        "files_removed": removed,
        "snapshots_expired": expired,
        "orphans_removed": orphans,
    }


def _compact(iceberg: Any, layout: Layout) -> tuple[int, int]:
    """Rewrite the rows of the unsettled live data files as ``layout`` cuts them, in one snapshot."""
    from pyiceberg.exceptions import CommitFailedException

    small = [t for t in iceberg.scan().plan_files() if not layout.settled(t.file.record_count)]
    key = iceberg.schema().as_arrow().names[0]  # the list's key leads every table of this provider
    if not small or layout.arranged([_bounds(iceberg, task.file, key) for task in small]):
        return 0, 0
    try:
        with transaction(iceberg) as tx:
            rewrite = Rewrite(tx)
            rewrite.deleted += [task.file for task in small]
            for piece in layout.pieces(rewrite.read(small), key):
                rewrite.write(piece)
            added = rewrite.commit()
    except CommitFailedException as err:
        log.warning(
            "A merge committed to %s meanwhile (%s): compaction skipped this time", iceberg.location(), err
        )
        return 0, 0
    log.info(
        "Compacted %d small files of %s into %d, sorted by %s", len(small), iceberg.location(), added, key
    )
    return added, len(small)


def _bounds(iceberg: Any, data_file: Any, key: str) -> tuple[int, Any, Any]:
    """A data file's rows and its lowest and highest ``key`` (its statistics)."""
    from pyiceberg.conversions import from_bytes

    field = iceberg.schema().find_field(key)
    low, high = data_file.lower_bounds.get(field.field_id), data_file.upper_bounds.get(field.field_id)
    if low is None or high is None:
        return data_file.record_count, None, None
    return data_file.record_count, from_bytes(field.field_type, low), from_bytes(field.field_type, high)


def _expire(iceberg: Any, cutoff: datetime) -> int:
    """Expire the snapshots older than ``cutoff`` (the current one and branch heads stay)."""
    expiring = iceberg.maintenance.expire_snapshots().older_than(cutoff)
    count = len(expiring._snapshot_ids_to_expire)
    if count:
        expiring.commit()
        iceberg.refresh()
    return count


def _referenced(iceberg: Any) -> set[str]:
    """Every file the table's metadata, snapshots and manifests reference (as paths without their scheme)."""
    io, meta = iceberg.io, iceberg.metadata
    paths = {iceberg.metadata_location, *(entry.metadata_file for entry in meta.metadata_log)}
    for snapshot in meta.snapshots:
        paths.add(snapshot.manifest_list)
        for manifest in snapshot.manifests(io):
            paths.add(manifest.manifest_path)
            paths |= {
                entry.data_file.file_path for entry in manifest.fetch_manifest_entry(io, discard_deleted=True)
            }
    return {_bare(path) for path in paths}


def _bare(uri: str) -> str:
    return uri.split("://", 1)[-1].rstrip("/")


def _remove_orphans(at: ObjectStoragePath, iceberg: Any, cutoff: datetime) -> int:
    """Delete the files under ``data/`` and ``metadata/`` nothing references, older than ``cutoff``."""
    referenced = _referenced(iceberg)
    fs, removed = at.fs, 0
    for folder in ("data", "metadata"):
        root = f"{str(at.path).rstrip('/')}/{folder}"
        if not fs.exists(root):
            continue
        for path, info in fs.find(root, detail=True).items():
            if _bare(path) in referenced or _modified(info) >= cutoff:
                continue
            fs.rm_file(path)
            removed += 1
    if removed:
        log.info("Removed %d orphan files of %s", removed, iceberg.location())
    return removed


def _modified(info: dict[str, Any]) -> datetime:
    """When a listed file was last written (local disks: ``mtime``; S3: ``LastModified``)."""
    stamp: Any = info.get("mtime", info.get("LastModified"))
    if isinstance(stamp, datetime):
        return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
    return datetime.fromtimestamp(float(stamp), UTC)
