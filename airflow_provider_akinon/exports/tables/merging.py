"""Merging a published export into a table: :func:`merge_export`, for Delta and Iceberg, current state or history."""

from __future__ import annotations

import tempfile
from datetime import datetime
from typing import Any

from airflow_provider_akinon.errors import AkinonConfigError
from airflow_provider_akinon.exports.commit.pinned import pinned_copies
from airflow_provider_akinon.exports.commit.storage import destination_path
from airflow_provider_akinon.exports.formats.base import Format
from airflow_provider_akinon.exports.formats.parquet import Parquet
from airflow_provider_akinon.exports.tables.delta import Delta
from airflow_provider_akinon.exports.tables.history import History
from airflow_provider_akinon.exports.tables.iceberg import Iceberg
from airflow_provider_akinon.exports.tables.iceberg_table import is_iceberg
from airflow_provider_akinon.resources import resource_named

#: The table formats, by name (the registry of every format, ``exports/registry.py``, lists them too).
TABLE_FORMATS: dict[str, Format] = {table.name: table for table in (Delta(), Iceberg())}


def table_format_at(table: Any, table_format: str | None = None, *, history: bool = False) -> Format:
    """The table format of ``table``: ``table_format`` if given, else Iceberg where the folder holds an
    Iceberg table, else Delta; its history table with ``history``."""
    name = table_format or (Iceberg.name if is_iceberg(destination_path(table)) else Delta.name)
    try:
        chosen = TABLE_FORMATS[name]
    except KeyError:
        raise AkinonConfigError(
            f"table_format={name!r} is not a table format; use one of {', '.join(TABLE_FORMATS)}."
        ) from None
    return History.of(chosen) if history else chosen


def merge_export(
    export: Any, table: Any, *, table_format: str | None = None, history: bool = False
) -> dict[str, Any]:
    """
    Merge a published Parquet export (a partition of the changes feed) into the table ``table``.

    The export's parts are copied out first, each checked against the manifest (sha256): a republish of
    the partition meanwhile cannot change what is merged.

    :param table_format: ``delta`` or ``iceberg``; default: what the folder holds, else ``delta``.
    :param history: keep every version (a history table) instead of the current state.
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
