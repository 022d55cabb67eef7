"""Read a published export back, record by record, whatever its format (the manifest lists the files)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from airflow_provider_akinon.exports.output import format_named
from airflow_provider_akinon.exports.output.storage import destination_path, read_manifest


def iter_export_records(uri: Any, *, column: str | None = None) -> Iterator[Any]:
    """
    Yield the records of the export at ``uri`` in file order, streaming (one file open at a time).

    :param column: yield only this top-level field of each record (cheap for Parquet).
    """
    folder = destination_path(uri)
    manifest = read_manifest(folder)
    file_format = format_named(manifest["format"])
    for entry in manifest["files"]:
        with (folder / entry["name"]).open("rb") as handle:
            yield from file_format.read(handle, column)
