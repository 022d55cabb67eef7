"""Merging a published export into a table: :func:`merge_export`, for Delta and Iceberg, current state or history."""

from __future__ import annotations

import tempfile
from datetime import datetime
from typing import Any

from airflow_provider_akinon.errors import AkinonConfigError, DestinationError
from airflow_provider_akinon.exports.commit.pinned import pinned_copies
from airflow_provider_akinon.exports.commit.storage import destination_path
from airflow_provider_akinon.exports.formats.base import Format
from airflow_provider_akinon.exports.formats.parquet import Parquet
from airflow_provider_akinon.exports.tables.current import table_schema
from airflow_provider_akinon.exports.tables.delta import Delta
from airflow_provider_akinon.exports.tables.format import TableFormat
from airflow_provider_akinon.exports.tables.history import History
from airflow_provider_akinon.exports.tables.iceberg import Iceberg
from airflow_provider_akinon.exports.tables.layout import FILE_ROWS, TAIL_ROWS, Layout
from airflow_provider_akinon.resources import Resource, resource_named

#: The table formats, by name (the registry of every format, ``exports/registry.py``, lists them too).
TABLE_FORMATS: dict[str, TableFormat] = {table.name: table for table in (Delta(), Iceberg())}


def held_at(table: Any) -> TableFormat | None:
    """The table format of the table the destination ``table`` holds (``None``: it holds none yet)."""
    at = destination_path(table)
    return next((chosen for chosen in TABLE_FORMATS.values() if chosen.holds(at)), None)


def table_format_at(
    table: Any, table_format: str | None = None, *, history: Any = False, default: str | None = Delta.name
) -> TableFormat:
    """
    The table format of ``table``: what the destination holds, which ``table_format`` (if given) must be;
    where it holds none, ``table_format``, else ``default`` (``None``: refused, naming the argument). The
    other format's table is never created beside one; its history table with ``history`` (``True``, or
    the table's options: :class:`~.history_options.HistoryOptions` or a dict of them).
    """
    held = held_at(table)
    name = table_format or (held.name if held is not None else default)
    if name is None:
        raise AkinonConfigError(
            f"{destination_path(table)} holds no table yet: name its format (table_format="
            f"{' or '.join(map(repr, TABLE_FORMATS))}), so that the table created is the one your merges use."
        )
    chosen = TABLE_FORMATS.get(name)
    if chosen is None:
        raise AkinonConfigError(
            f"table_format={name!r} is not a table format; use one of {', '.join(TABLE_FORMATS)}."
        )
    if held is not None and held is not chosen:
        raise DestinationError(
            f"{destination_path(table)} holds a {held.name} table, not a {name} one: a {name} table beside it "
            f"would split the data. Merge with table_format={held.name!r}, or give the {name} table a folder "
            "of its own."
        )
    return History.of(chosen, history) if history else chosen


def preflight(chosen: Format, resource: Resource, table: Any) -> None:
    """
    Refuse, before any request, a destination an export cannot merge into: a table of the other format,
    a table of the other kind (current state for a history export, or the reverse), or (Iceberg) a
    catalog entry of its name living elsewhere.
    """
    history = isinstance(chosen, History)
    base = table_format_at(table, chosen.name)
    columns = base.columns(destination_path(table))
    if isinstance(chosen, History):
        held_history = columns is not None and chosen.options.valid_from in columns
    else:  # a history table of any layout holds columns beyond the current state's
        held_history = columns is not None and bool(set(columns) - set(table_schema(resource).names))
    if columns is not None and held_history != history:
        kind = ("a current-state", "history") if history else ("a history", "current-state")
        raise DestinationError(
            f"{destination_path(table)} holds {kind[0]} table of {resource.name}; this {kind[1]} export is "
            f"not merged into it. Give it a folder of its own{'' if history else ', or export with history=True'}."
        )
    if isinstance(chosen, History):
        chosen.options.check(columns)


def merge_export(
    export: Any, table: Any, *, table_format: str | None = None, history: Any = False
) -> dict[str, Any]:
    """
    Merge a published Parquet export (a partition of the changes feed) into the table ``table``.

    The export's parts are copied out first, each checked against the manifest (sha256): a republish of
    the partition meanwhile cannot change what is merged.

    :param table_format: ``delta`` or ``iceberg``; default: what the folder holds, else ``delta``. A
        format other than the table's there is refused.
    :param history: keep every version (a history table) instead of the current state: ``True``, or
        its layout as a dict or :class:`~.history_options.HistoryOptions` (``validity_columns``,
        ``open_end``, ``version_on``, ``deletion_rows``).
    """
    folder = destination_path(export.get("uri") if isinstance(export, dict) else export)
    into = table_format_at(table, table_format, history=history)
    with tempfile.TemporaryDirectory(prefix="akinon-merge-") as scratch:
        manifest, copies = pinned_copies(folder, scratch)
        if manifest["format"] != Parquet.name:
            raise AkinonConfigError(
                f"{folder} holds {manifest['format']}; merge_export merges Parquet exports."
            )
        parts = [destination_path(copy) for copy in copies]
        exported_at = datetime.fromisoformat(manifest["created_at"])
        return into.merge(resource_named(manifest["resource"]), destination_path(table), parts, exported_at)


def maintain(
    table: Any,
    *,
    retention_days: float = 7,
    table_format: str | None = None,
    tail_rows: int = TAIL_ROWS,
    file_rows: int = FILE_ROWS,
) -> dict[str, Any]:
    """
    Keep the Delta or Iceberg ``table`` fast for years: compact its small files, sorted by key, and drop
    what no version of the last ``retention_days`` needs (Delta: compaction and ``vacuum``; Iceberg:
    compaction, snapshot expiry and orphan removal). Run it on a schedule (daily, as the hourly example
    DAG does): a merge then reads at most a day of small files.

    :param table_format: ``delta`` or ``iceberg``; default: what the folder holds.
    :param tail_rows: the rows of the file holding the newest keys, where merges land; each older file
        holds twice the one above it (:mod:`~airflow_provider_akinon.exports.tables.layout`) ...
    :param file_rows: ... up to this many; files of half as many or more are settled and left alone.
    """
    layout = Layout(tail_rows=tail_rows, file_rows=file_rows)
    chosen = table_format_at(table, table_format, default=None)
    return chosen.maintain(table, retention_days=retention_days, layout=layout)
