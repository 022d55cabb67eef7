"""Keeping an Iceberg table fast for years: small files compacted, old snapshots expired, orphan files removed.

An hourly feed makes 8,760 commits a year, each adding a data file, a manifest, a manifest list and a
metadata file: left alone, every merge plans over more manifests and reads more small files than the one
before. :func:`maintain_iceberg` (what ``maintain()`` runs on an Iceberg table) does what Iceberg's own
maintenance actions do, in this order:

1. **compact**: the live data files smaller than ``small_bytes`` are read in bins of up to ``target_bytes``
   and rewritten as larger files, in one snapshot of the same rows (a reader sees no change);
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

log = logging.getLogger(__name__)

#: Data files smaller than this are compacted ...
SMALL_BYTES = 32 * 1024 * 1024
#: ... into files of about this size.
TARGET_BYTES = 128 * 1024 * 1024


def maintain_iceberg(
    table: Any,
    *,
    retention_days: float = 7,
    small_bytes: int = SMALL_BYTES,
    target_bytes: int = TARGET_BYTES,
) -> dict[str, Any]:
    """Compact the small files of the Iceberg ``table``, expire its snapshots older than ``retention_days``
    and remove the files no snapshot references any longer; return what was done."""
    at = destination_path(table)
    iceberg = provider_properties(open_table(at, None))
    added, removed = _compact(iceberg, small_bytes, target_bytes)
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


def _compact(iceberg: Any, small_bytes: int, target_bytes: int) -> tuple[int, int]:
    """Rewrite the small live data files in bins of up to ``target_bytes``, in one snapshot."""
    from pyiceberg.exceptions import CommitFailedException

    small = [t for t in iceberg.scan().plan_files() if t.file.file_size_in_bytes < small_bytes]
    if len(small) < 2:
        return 0, 0
    bins: list[list[Any]] = [[]]
    for task in small:
        if (
            bins[-1]
            and sum(t.file.file_size_in_bytes for t in bins[-1]) + task.file.file_size_in_bytes > target_bytes
        ):
            bins.append([])
        bins[-1].append(task)
    try:
        with transaction(iceberg) as tx:
            rewrite = Rewrite(tx)
            for group in bins:  # one bin in memory at a time
                rewrite.deleted += [task.file for task in group]
                rewrite.write(rewrite.read(group))
            added = rewrite.commit()
    except CommitFailedException as err:
        log.warning(
            "A merge committed to %s meanwhile (%s): compaction skipped this time", iceberg.location(), err
        )
        return 0, 0
    log.info("Compacted %d small files of %s into %d", len(small), iceberg.location(), added)
    return added, len(small)


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
