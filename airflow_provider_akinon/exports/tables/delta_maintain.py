"""Keeping a Delta table fast for years: its small files compacted by key (:mod:`.layout`), old files vacuumed.

delta-rs's own ``optimize.compact`` bins small files as they come: an hourly feed's table ends as a few
large files holding every key, and each merge rewrites one of them whole. :func:`maintain_delta` compacts
instead as :class:`~.layout.Layout` says (the unsettled files' rows sorted by key, the newest keys in the
smallest files) in one commit that changes no data (``dataChange: false``): a merge committing meanwhile
makes it fail (delta-rs: "a concurrent transaction deleted data this operation read"), and it is skipped
for this round. Then ``vacuum`` removes the files no version of the last ``retention_days`` references,
and the log is kept as long (its older commits and removed files expired after a checkpoint).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

from airflow_provider_akinon.compat import ObjectStoragePath
from airflow_provider_akinon.exports.commit.storage import destination_path
from airflow_provider_akinon.exports.tables.current import table_location
from airflow_provider_akinon.exports.tables.layout import Layout

log = logging.getLogger(__name__)


def maintain_delta(table: Any, *, retention_days: float = 7, layout: Layout | None = None) -> dict[str, Any]:
    """Compact the small files of the Delta ``table`` by key and vacuum the files unreferenced for longer
    than ``retention_days``; return what was done."""
    from deltalake import DeltaTable

    at = destination_path(table)
    uri, options = table_location(at)
    delta = DeltaTable(uri, storage_options=options)
    added, removed = _compact(delta, at, layout or Layout())
    delta.update_incremental()
    # below the table's own retention (7 days by default) delta-rs asks for this to be said explicitly
    vacuumed = delta.vacuum(
        retention_hours=int(retention_days * 24),
        dry_run=False,
        enforce_retention_duration=retention_days >= 7,
    )
    _expire_log(delta, retention_days)
    return {
        "table": uri,
        "table_version": delta.version(),
        "files_added": added,
        "files_removed": removed,
        "vacuumed": len(vacuumed),
    }


def _compact(delta: Any, at: ObjectStoragePath, layout: Layout) -> tuple[int, int]:
    """Rewrite the unsettled files' rows as ``layout`` cuts them, in one commit; the files added and removed."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from deltalake.exceptions import CommitFailedError
    from deltalake.transaction import AddAction, RemoveAction

    files = pa.table(delta.get_add_actions(flatten=True)).to_pylist()
    if any(file.get("partition_values") for file in files):
        log.info("%s is partitioned: compacted by delta-rs", at)
        done = delta.optimize.compact()
        return done.get("numFilesAdded", 0), done.get("numFilesRemoved", 0)
    schema = delta.schema().to_arrow()
    schema = pa.schema(schema) if not isinstance(schema, pa.Schema) else schema
    key = schema.names[0]  # the list's key leads every table of this provider
    small = [f for f in files if f["num_records"] is None or not layout.settled(f["num_records"])]
    bounds = [(f["num_records"], f.get(f"min.{key}"), f.get(f"max.{key}")) for f in small]
    if not small or layout.arranged(bounds):
        return 0, 0
    rows = pa.concat_tables([_read(at / f["path"]).cast(schema) for f in small])
    now = int(time.time() * 1000)
    actions: list[Any] = []
    for piece in layout.pieces(rows, key):
        name = f"part-00000-{uuid.uuid4()}-c000.snappy.parquet"
        with (at / name).open("wb") as out:
            pq.write_table(piece, out, compression="snappy")
        stats = {
            "numRecords": len(piece),
            "minValues": {key: piece.column(key)[0].as_py()},
            "maxValues": {key: piece.column(key)[-1].as_py()},
            "nullCount": {key: piece.column(key).null_count},
        }
        actions.append(AddAction(name, (at / name).stat()["size"], {}, now, False, json.dumps(stats)))
    added = len(actions)
    actions += [
        RemoveAction(path=f["path"], data_change=False, deletion_timestamp=now, size=f["size_bytes"])
        for f in small
    ]
    try:
        delta.create_write_transaction(actions, mode="append", schema=delta.schema())
    except CommitFailedError as err:
        log.warning("A merge committed to %s meanwhile (%s): compaction skipped this time", at, err)
        return 0, 0  # the files it wrote are referenced by no version: the vacuum removes them
    log.info("Compacted %d small files of %s into %d, sorted by %s", len(small), at, added, key)
    return added, len(small)


def _expire_log(delta: Any, retention_days: float) -> None:
    """Keep the log as long as the files: its commits and the checkpoints' removed files older than
    ``retention_days`` go (the vacuum removed their data files, so no time travel reaches them). Left to
    Delta's defaults (30 days of commits, 7 of removed files), every merge of an hourly feed lists and
    replays a log grown by 720 commits and their removed files: measured here, a one-row merge took
    0.035 s at 100 commits and 0.068 s at 3,000, and 0.040 s once the log was expired."""
    interval = f"interval {max(1, round(retention_days * 86_400))} seconds"
    wanted = {"delta.logRetentionDuration": interval, "delta.deletedFileRetentionDuration": interval}
    configuration = delta.metadata().configuration
    if any(configuration.get(name) != value for name, value in wanted.items()):
        delta.alter.set_table_properties(wanted)
    delta.create_checkpoint()
    delta.cleanup_metadata()


def _read(file: ObjectStoragePath) -> Any:
    import pyarrow.parquet as pq

    with file.open("rb") as source:
        return pq.read_table(source)
