"""A Delta or Iceberg table under test: exported into, read back row by row, queried with DuckDB.

:class:`Table` hides which format a table is, so that one test states a rule of every table format
(``tests/exports/output/test_tables.py``); what differs is here: how rows and versions are read, where
a merge can be killed, and which DuckDB extension reads the table (from PyPI, never downloaded).
"""

from __future__ import annotations

import json
import site
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from airflow_provider_akinon.exports import destination_path
from tests.support.changes import export_changes, kill_at, merge_both_at_once

DUCKDB_EXTENSIONS = Path(site.getsitepackages()[0]) / "duckdb_ext/extensions/v1.4.4/linux_amd64"

# where an export is killed in its merge, and whether it is held there or killed once the step started
KILLED_AT = {
    "delta": (("deltalake.table", "TableMerger", "execute"), False),
    "iceberg": (("pyiceberg.table", "Transaction", "commit_transaction"), True),
}


@dataclass(frozen=True)
class Table:
    """The table of ``file_format`` (``delta`` or ``iceberg``) at ``path`` (a folder or an S3 prefix)."""

    file_format: str
    path: str

    def export(self, day: str) -> dict:
        """Merge the orders modified on ``day`` into the table; the export's summary."""
        return export_changes(self.path, day, self.file_format)

    def raw_rows(self) -> list[dict[str, Any]]:
        """Every row of the table, tombstones too."""
        if self.file_format == "delta":
            from deltalake import DeltaTable

            from airflow_provider_akinon.exports.tables.delta import table_location

            uri, options = table_location(destination_path(self.path))
            return DeltaTable(uri, storage_options=options).to_pyarrow_table().to_pylist()
        from airflow_provider_akinon.exports.tables.iceberg_table import open_table

        return open_table(destination_path(self.path), None).scan().to_arrow().to_pylist()

    def rows(self) -> dict[int, dict]:
        """Order id -> the live record in the table (its ``_record``), checked against its typed columns."""
        rows = self.raw_rows()
        assert len({row["id"] for row in rows}) == len(rows), "a key stands in the table twice"
        state = {}
        for row in rows:
            if row["_deleted_at"] is not None:
                continue
            record = json.loads(row["_record"])
            assert (row["id"], row["status"]) == (record["id"], record["status"])
            assert row["amount"] == Decimal(record["amount"])
            state[row["id"]] = record
        return state

    def version(self) -> int | None:
        """The table's version (Delta) or current snapshot (Iceberg); ``None`` before the first commit."""
        if self.file_format == "delta":
            from airflow_provider_akinon.exports.tables.delta import table_version
        else:
            from airflow_provider_akinon.exports.tables.iceberg_table import table_version
        return table_version(destination_path(self.path))["table_version"]

    def sql(self, query: str) -> list[tuple]:
        """``query`` over the table (``{table}``), read by DuckDB's delta or iceberg extension."""
        import duckdb

        con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
        if self.file_format == "delta":
            con.execute(f"LOAD '{DUCKDB_EXTENSIONS / 'delta'}.duckdb_extension'")
            return con.execute(query.format(table=f"delta_scan('{self.path}')")).fetchall()
        from airflow_provider_akinon.exports.tables.iceberg_table import open_table

        for extension in ("avro", "iceberg"):
            con.execute(f"LOAD '{DUCKDB_EXTENSIONS / extension}.duckdb_extension'")
        metadata = open_table(destination_path(self.path), None).metadata_location
        return con.execute(query.format(table=f"iceberg_scan('{metadata}')")).fetchall()

    def kill_a_merge(self, marker: Path, day: str) -> None:
        """Export ``day`` in a child process killed in its merge, before the commit lands."""
        where, hold = KILLED_AT[self.file_format]
        kill_at(where, marker, self.path, day, self.file_format, hold=hold)

    def merge_both_at_once(self, days: list[str]) -> list:
        """Export two days in two processes whose merges start together; their exit codes."""
        return merge_both_at_once(self.path, days, self.file_format)
