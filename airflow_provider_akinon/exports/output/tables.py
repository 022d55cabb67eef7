"""What a table format is: an export staged as Parquet, finished by a merge into the table at the destination.

A :class:`TableFormat` (Delta Lake, Apache Iceberg) says how staged parts are merged into its table in one
commit (:meth:`~.base.Format.merge`) and what version a table is at (:meth:`~.base.Format.version`);
staging, finishing (:meth:`~.base.Format.finish`) and the summary are the same for every table.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_akinon.exports.output.parquet import Parquet
from airflow_provider_akinon.exports.output.target import ExportTarget


class TableFormat(Parquet):
    """Staged as Parquet, finished by a merge into the table at the destination (one commit)."""

    table = True

    def summarise(self, target: ExportTarget, manifest: dict[str, Any]) -> dict[str, Any]:
        """The table version this export wrote (the table's own log is its manifest)."""
        return {
            "manifest": None,
            "files": 0,
            **{name: manifest[name] for name in ("table", "table_version", "inserted", "updated")},
        }
