"""Exports of Akinon lists: plan -> walks -> output formats. What DAG authors use of them is here:
reading an export back, its manifest, and merging an export into (and keeping) a Delta or Iceberg table."""

from __future__ import annotations

from airflow_provider_akinon.exports.commit.storage import destination_path, read_manifest
from airflow_provider_akinon.exports.reader import iter_export_records
from airflow_provider_akinon.exports.tables.deletions import apply_deletions
from airflow_provider_akinon.exports.tables.merging import maintain, merge_export

__all__ = [
    "apply_deletions",
    "destination_path",
    "iter_export_records",
    "maintain",
    "merge_export",
    "read_manifest",
]
