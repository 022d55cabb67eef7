"""Deletions reach the current state: Akinon's ``deleted_items`` applied to a Delta table in one commit.

Omnitron lists what was deleted (``deleted_items/``: ``object_id``, ``content_type_model``,
``deleted_date``). :func:`apply_deletions` takes an export of that list and removes from a current-state
table the rows the deletions name, where the deletion is newer than the row's version (a row re-created
or updated after the deletion stays). Orders are matched by their key; the children of a deleted order
(items, discounts) by their ``order``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from airflow_provider_akinon.errors import ExportConsistencyError
from airflow_provider_akinon.exports.output.delta import MAX_MERGES, table_location
from airflow_provider_akinon.exports.output.reader import iter_export_records
from airflow_provider_akinon.exports.output.storage import destination_path
from airflow_provider_akinon.timestamps import parse_instant

log = logging.getLogger(__name__)


def apply_deletions(deletions: Any, table: Any, *, model: str = "order", match: str = "id") -> dict[str, Any]:
    """
    Remove from the Delta ``table`` the rows the ``deleted_items`` export ``deletions`` names.

    :param model: the ``content_type_model`` of the deletions to apply (``order``).
    :param match: the table's column holding the deleted object's id: ``id`` for a table of orders,
        ``order`` for a table of their items or discounts.
    """
    import pyarrow as pa
    from deltalake import DeltaTable
    from deltalake.exceptions import CommitFailedError

    uri = deletions.get("uri") if isinstance(deletions, dict) else deletions
    rows = [r for r in iter_export_records(uri) if r.get("content_type_model") == model]
    location, options = table_location(destination_path(table))
    if not rows or not DeltaTable.is_deltatable(location, storage_options=options):
        return {"table": location, "deleted": 0, "table_version": None}
    source = pa.table(
        {
            "object_id": pa.array([int(r["object_id"]) for r in rows], pa.int64()),
            "deleted_date": pa.array(
                [_instant(r["deleted_date"]) for r in rows], pa.timestamp("us", tz="UTC")
            ),
        }
    )
    newer = "t.modified_date IS NULL OR s.deleted_date > t.modified_date"
    for attempt in range(1, MAX_MERGES + 1):
        delta = DeltaTable(location, storage_options=options)
        try:
            metrics = (
                delta.merge(source, predicate=f"t.{match} = s.object_id", source_alias="s", target_alias="t")
                .when_matched_delete(predicate=newer)
                .execute()
            )
        except CommitFailedError as err:
            log.warning(
                "Another writer committed to %s first (%s); applying again (%d)", location, err, attempt
            )
            continue
        deleted = metrics.get("num_target_rows_deleted", 0)
        log.info("Applied %d deletions of %s to %s: %d rows removed", len(rows), model, location, deleted)
        return {"table": location, "deleted": deleted, "table_version": delta.version()}
    raise ExportConsistencyError(
        f"{location}: other writers kept committing first during {MAX_MERGES} attempts; no deletion was applied."
    )


def _instant(value: str) -> datetime:
    return parse_instant(value)
