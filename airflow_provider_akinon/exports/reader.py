"""Read a published export back, record by record, pinned to its manifest and checked, whatever its format.

Every file is checked against the manifest before a record of it is yielded (:mod:`.pinned`), and its
records are counted; a republish while reading does not disturb the reader (superseded parts stay for
``superseded_retention``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from airflow_provider_akinon.errors import ExportIntegrityError, PartGone
from airflow_provider_akinon.exports.commit.pinned import gone_error, open_part
from airflow_provider_akinon.exports.commit.protocol import version_of
from airflow_provider_akinon.exports.commit.storage import destination_path, read_manifest
from airflow_provider_akinon.exports.registry import format_named


def _records(folder: Any, manifest: dict[str, Any], column: str | None) -> Iterator[Any]:
    file_format = format_named(manifest["format"], module=manifest.get("format_module"))
    for entry in manifest["files"]:
        count = 0
        with open_part(folder, entry) as handle:
            for record in file_format.read(handle, column):
                count += 1
                yield record
        if count != entry["records"]:
            raise ExportIntegrityError(
                f"{folder / entry['name']} holds {count} records where its manifest lists {entry['records']}: "
                "the manifest does not describe this file. Run the export again."
            )


def iter_export_records(uri: Any, *, column: str | None = None) -> Iterator[Any]:
    """
    Yield the records of the export at ``uri`` in file order, streaming (one file open at a time).

    :param column: yield only this top-level field of each record (cheap for Parquet).
    """
    folder = destination_path(uri)
    manifest, yielded = read_manifest(folder), 0
    while True:
        try:
            for record in _records(folder, manifest, column):
                yielded += 1
                yield record
            return
        except PartGone as gone:
            newer = read_manifest(folder)
            if yielded or version_of(newer) == version_of(manifest):
                raise gone_error(folder, str(gone), manifest, newer) from None
            manifest = newer  # nothing read yet: read the newer export instead
