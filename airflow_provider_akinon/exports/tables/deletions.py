"""Deletions reach the current state: Akinon's ``deleted_items`` marked in a Delta (or Iceberg) table, in one commit.

Omnitron lists what was deleted (``deleted_items/``: ``object_id``, ``content_type_model``,
``deleted_date``). :func:`apply_deletions` takes an export of that list and sets ``_deleted_at`` on the
rows the deletions name, where the deletion is not older than the row's version (a row updated after
the deletion stays live); a deletion of a record not in the table yet leaves a tombstone row, so the
record stays deleted when an older window brings it later
(:mod:`~airflow_provider_akinon.exports.tables.current`). Orders are matched by their key; the children
of a deleted order (items, discounts) by their ``order``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial
from typing import Any

import orjson

from airflow_provider_akinon.errors import AkinonConfigError, ExportConsistencyError
from airflow_provider_akinon.exports.commit.storage import destination_path, read_manifest
from airflow_provider_akinon.exports.reader import iter_export_records
from airflow_provider_akinon.exports.tables.current import (
    DELETED,
    MAX_MERGES,
    open_table,
    q,
    table_location,
    table_schema,
)
from airflow_provider_akinon.exports.tables.format import CHUNK
from airflow_provider_akinon.exports.tables.iceberg import Iceberg, apply_iceberg_deletions
from airflow_provider_akinon.exports.tables.iceberg_table import is_iceberg
from airflow_provider_akinon.exports.tables.iceberg_table import open_table as open_iceberg
from airflow_provider_akinon.exports.tables.iceberg_table import table_version as iceberg_version
from airflow_provider_akinon.exports.tables.merging import table_format_at
from airflow_provider_akinon.exports.tables.tombstones import rows_where
from airflow_provider_akinon.resources import resource_named
from airflow_provider_akinon.timestamps import parse_instant

log = logging.getLogger(__name__)


def _deletions(uri: Any, model: str, tombstone_keys: bool, *, every: bool = False) -> Any:
    """The export's deletions of ``model``, newest per object (``every``: all of them), as a table; each
    twice (the rows of a deleted parent, and its tombstone) where the table holds children."""
    import pyarrow as pa

    found: dict[tuple[int, Any], tuple[datetime, str]] = {}
    for r in iter_export_records(uri):
        if r.get("content_type_model") == model:
            at, key = parse_instant(r["deleted_date"]), int(r["object_id"])
            slot = (key, at if every else None)
            if slot not in found or at > found[slot][0]:
                found[slot] = (at, orjson.dumps(r).decode())
    kinds = ("rows", "tomb") if tombstone_keys else ("tomb",)
    rows = [
        (kind, key, at, record)
        for kind in kinds
        for (key, _), (at, record) in sorted(found.items(), key=lambda item: item[0][0])
    ]
    stamp = pa.timestamp("us", tz="UTC")
    exported = datetime.fromisoformat(read_manifest(uri)["created_at"])  # when these deletions were exported
    return pa.table(
        {
            "kind": pa.array([r[0] for r in rows], pa.string()),
            "object_id": pa.array([r[1] for r in rows], pa.int64()),
            "tomb_key": pa.array([-r[1] if tombstone_keys else r[1] for r in rows], pa.int64()),
            "d": pa.array([r[2] for r in rows], stamp),
            "record": pa.array([r[3] for r in rows], pa.string()),
            "exported_at": pa.array([exported] * len(rows), stamp),
        }
    )


def _rules(key: str, match: str, version: str | None) -> tuple[str, str, dict[str, str]]:
    """The merge predicate, when a matched row takes the deletion, and the tombstone row inserted."""
    if match == key:
        predicate = f"t.{q(key)} = s.object_id"
        inserted = {q(key): "s.object_id"}
    else:
        predicate = (
            f"(s.kind = 'rows' AND t.{q(match)} = s.object_id AND t.{q(key)} >= 0) "
            f"OR (s.kind = 'tomb' AND t.{q(key)} = s.tomb_key)"
        )
        inserted = {q(key): "s.tomb_key", q(match): "s.object_id"}
    newer = f"(t.{DELETED} IS NULL OR s.d > t.{DELETED})"
    if version:
        newer += f" AND (t.{q(version)} IS NULL OR s.d >= t.{q(version)})"
    return (
        predicate,
        newer,
        {**inserted, DELETED: "s.d", "_record": "s.record", "_exported_at": "s.exported_at"},
    )


def apply_deletions(
    deletions: Any,
    table: Any,
    *,
    model: str = "order",
    match: str = "id",
    resource: str | None = None,
    table_format: str | None = None,
    history: Any = False,
) -> dict[str, Any]:
    """
    Mark as deleted in the Delta or Iceberg ``table`` the rows the ``deleted_items`` export ``deletions`` names.

    :param model: the ``content_type_model`` of the deletions to apply (``order``).
    :param match: the table's column holding the deleted object's id: ``id`` for a table of orders,
        ``order`` for a table of their items or discounts.
    :param resource: the list the table holds (``orders``, ``order_items``): where the table does not
        exist yet, it is created to hold the tombstones. Default: ``orders`` where ``match`` is ``id``.
    :param table_format: ``delta`` or ``iceberg``: needed where the folder holds no table yet (the table
        is created in that format); else what the folder holds, which it must match.
    :param history: the table is a history table (``history=True``, or the options it was created with:
        a dict or :class:`~.history_options.HistoryOptions`): each deletion ends the version it deleted
        (and is a row of its own, unless ``deletion_rows`` is off); a table of children
        (``resource='order_items', match='order'``) retires the items of each deleted order.
    """
    uri = deletions.get("uri") if isinstance(deletions, dict) else deletions
    kind = resource or ("orders" if match == "id" else None)
    at = destination_path(table)
    chosen = table_format_at(at, table_format, default=None)  # never the other format beside a table
    if history:
        return _history(uri, at, model, match, kind, chosen.name, history)
    if chosen.name == Iceberg.name:
        return _iceberg(uri, at, model, match, kind)
    from deltalake import DeltaTable

    location, options = table_location(at)
    if kind is None and not DeltaTable.is_deltatable(location, storage_options=options):
        raise AkinonConfigError(
            f"{location} is not a Delta table yet; name the list it holds (resource='order_items') so that "
            "the deletions are kept for the records that come later."
        )
    delta = open_table(location, table_schema(resource_named(kind)) if kind else None, options)
    columns = delta.schema().to_arrow().names
    key = columns[0]  # the table's key leads its columns (schema_for)
    version = "modified_date" if "modified_date" in columns else None
    source = _deletions(uri, model, tombstone_keys=match != key)
    if not source.num_rows:
        return {"table": location, "deleted": 0, "tombstones": 0, "table_version": delta.version()}
    return _merge(location, options, source, _rules(key, match, version), model)


def _history(
    uri: Any, at: Any, model: str, match: str, kind: str | None, table_format: str | None, history: Any
) -> dict[str, Any]:
    """The deletions of records of a history table: rows of their own; the versions they ended close. A
    table of children (``match`` their parent's column) retires the children of a deleted parent: each
    of them is deleted at its parent's deletion."""
    from airflow_provider_akinon.exports.tables.history import write_history
    from airflow_provider_akinon.exports.tables.history_options import HistoryOptions

    if kind is None:
        raise AkinonConfigError(
            "A history table takes deletions of the list it holds: name it (resource='orders', or "
            "resource='order_items' with match='order' to retire the items of deleted orders)."
        )
    resource = resource_named(kind)
    key, chosen = resource.primary_key, table_format_at(at, table_format)
    deleted = _deletions(uri, model, tombstone_keys=False, every=True).to_pylist()
    tombstones = []
    if match != key:  # each deleted parent leaves a tombstone: its children merged later are retired too
        tombstones = [{**d, "object_id": -d["object_id"], match: d["object_id"]} for d in deleted]
        deleted = list(_children(chosen, at, match, key, deleted))
    rows = [
        {
            key: d["object_id"],
            **({match: d.get(match)} if match != key else {}),
            DELETED: d["d"],
            "_record": d["record"],
            "_exported_at": d["exported_at"],
        }
        for d in deleted + tombstones
    ]
    if not rows:
        return {"table": str(at), "deleted": 0}
    import pyarrow as pa

    deletions = pa.Table.from_pylist(rows)
    deleted = [row for row in rows if row[key] is not None and row[key] >= 0] if match != key else rows
    keys = deletions.column(key).to_pylist()
    chunks = [
        (keys[start : start + CHUNK], partial(deletions.slice, start, CHUNK))
        for start in range(0, len(keys), CHUNK)
    ]
    done = write_history(chosen, resource, at, chunks, HistoryOptions.of(history))
    return {**done, "deleted": len(deleted), **({"tombstones": len(tombstones)} if match != key else {})}


def _children(chosen: Any, at: Any, match: str, key: str, deleted: list[dict]) -> Any:
    """The deletions of the children a history table holds of the deleted parents (``match``: the
    children's column naming their parent), a chunk of parents at a time: each child is deleted when its
    parent was."""
    columns = chosen.columns(at)
    if columns is None:  # no table, no children yet: nothing to retire
        return
    if match not in columns:
        raise AkinonConfigError(
            f"{at} has no column {match!r} naming the parent of its records: match the parent's column "
            f"(one of {columns[:8]}), or key={key!r} for deletions of its own records."
        )
    for start in range(0, len(deleted), CHUNK):
        parents: dict[Any, list[dict]] = {}
        for d in deleted[start : start + CHUNK]:
            parents.setdefault(d["object_id"], []).append(d)
        held = rows_where(chosen, at, match, list(parents), [key, match])
        for child, parent in sorted(set(zip(held[key], held[match], strict=True))):
            for d in parents[parent]:
                yield {**d, "object_id": child}


def _iceberg(uri: Any, at: Any, model: str, match: str, kind: str | None) -> dict[str, Any]:
    """The deletions applied to an Iceberg table (:mod:`.iceberg`), by the same rules."""
    if kind is None and not is_iceberg(at):
        raise AkinonConfigError(
            f"{at} is not an Iceberg table yet; name the list it holds (resource='order_items') so that "
            "the deletions are kept for the records that come later."
        )
    schema = table_schema(resource_named(kind)) if kind else None
    key = resource_named(kind).primary_key if kind else open_iceberg(at, None).schema().as_arrow().names[0]
    source = _deletions(uri, model, tombstone_keys=match != key).to_pylist()
    if not source:
        return {**iceberg_version(at), "deleted": 0, "tombstones": 0}
    return apply_iceberg_deletions(source, at, match, schema)


def _merge(
    location: str, options: dict[str, str], source: Any, rules: tuple[str, str, dict[str, str]], model: str
) -> dict[str, Any]:
    """The deletions merged into the table in one commit, merged again on the new version after a conflict."""
    from deltalake.exceptions import CommitFailedError

    predicate, newer, inserted = rules
    for attempt in range(1, MAX_MERGES + 1):
        delta = open_table(location, None, options)
        merger = delta.merge(source, predicate, "s", "t").when_matched_update(
            {DELETED: "s.d"}, predicate=newer
        )
        try:
            metrics = merger.when_not_matched_insert(inserted, predicate="s.kind = 'tomb'").execute()
        except CommitFailedError as err:
            log.warning(
                "Another writer committed to %s first (%s); applying again (%d)", location, err, attempt
            )
            continue
        marked, tombs = metrics.get("num_target_rows_updated", 0), metrics.get("num_target_rows_inserted", 0)
        log.info(
            "Applied %d deletions of %s to %s: %d rows marked, %d tombstones",
            len(source),
            model,
            location,
            marked,
            tombs,
        )
        return {"table": location, "deleted": marked, "tombstones": tombs, "table_version": delta.version()}
    raise ExportConsistencyError(
        f"{location}: other writers kept committing first during {MAX_MERGES} attempts; no deletion was applied."
    )
