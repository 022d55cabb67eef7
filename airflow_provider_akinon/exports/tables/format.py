"""What a table format is: an export staged as Parquet, finished by a merge into the table at the destination.

A :class:`TableFormat` (Delta Lake, Apache Iceberg) says how staged parts are merged into its table in one
commit (:meth:`~.base.Format.merge`) and what version a table is at (:meth:`~.base.Format.version`);
staging and the summary are the same for every table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from airflow_provider_akinon.exports.formats.parquet import Parquet
from airflow_provider_akinon.exports.tables.versions import DELETED


class TableFormat(Parquet):
    """Staged as Parquet, finished by a merge into the table at the destination (one commit)."""

    typed = False  # staged in the fixed schema the merges read (typed tables: a later step)

    table = True

    def summarise(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """The table version this export wrote (the table's own log is its manifest)."""
        return {
            "files": 0,
            **{name: manifest[name] for name in ("table", "table_version", "inserted", "updated")},
        }

    def holds(self, table: Any) -> bool:
        """Whether the destination ``table`` (an ``ObjectStoragePath``) holds a table of this format."""
        raise NotImplementedError

    def columns(self, table: Any) -> list[str] | None:
        """The columns of this format's table at ``table`` (``None``: none there yet)."""
        raise NotImplementedError

    def maintain(self, table: Any, *, retention_days: float = 7, layout: Any = None) -> dict[str, Any]:
        """Keep the table at ``table`` fast: compact its small files as ``layout`` (a
        :class:`~.layout.Layout`) says, drop what no version of the last ``retention_days`` needs; return
        what was done."""
        raise NotImplementedError

    def rewrite(
        self, table: Any, schema: Any, ids: tuple[str, str, Any], chunks: list[list[Any]], decide: Any
    ) -> dict[str, Any] | None:
        """
        A history table: for each chunk of keys (one in memory at a time), read the rows of those records
        and let ``decide(held, n)`` say which rows of the ``n``-th chunk are new or changed; write them all
        in one commit (``ids``: the key and version fields, and the table's layout). ``None``: another
        writer committed since the rows were read, so they must be decided again.
        """
        raise NotImplementedError


#: Records of an export a merge decides at once: its memory follows this, not the size of the export.
CHUNK = 10_000


@dataclass(frozen=True)
class Staged:
    """
    A chunk of an export's staged records: whole row groups of one staged Parquet part, about
    :data:`CHUNK` records (a merge reads one chunk at a time).
    """

    part: Any
    groups: tuple[int, ...]

    def read(self, columns: list[str] | None = None) -> Any:
        """The chunk's records as an Arrow table (only ``columns``, if given)."""
        import pyarrow.parquet as pq

        with self.part.fs.open(self.part.path, "rb") as handle:
            return pq.ParquetFile(handle).read_row_groups(list(self.groups), columns=columns)

    def keys(self, key: str) -> list[Any]:
        """The chunk's keys."""
        return self.read([key]).column(key).to_pylist()

    def rows(self, exported_at: datetime, schema: Any) -> Any:
        """The chunk's records as an Arrow table of the table's ``schema``, stamped when they were exported."""
        import pyarrow as pa

        staged = self.read([f.name for f in schema if f.name not in ("_exported_at", DELETED)])  # by name
        count = staged.num_rows
        stamps = pa.array([exported_at] * count, schema.field("_exported_at").type)
        columns = {"_exported_at": stamps, DELETED: pa.nulls(count, schema.field(DELETED).type)}
        return pa.table(
            [columns[f.name] if f.name in columns else staged.column(f.name).cast(f.type) for f in schema],
            schema=schema,
        )


def staged_chunks(parts: list[Any], size: int | None = None) -> list[Staged]:
    """The staged ``parts`` cut into chunks of whole row groups of about ``size`` records (:data:`CHUNK`)."""
    import pyarrow.parquet as pq

    size = size or CHUNK
    chunks: list[Staged] = []
    for part in parts:
        with part.fs.open(part.path, "rb") as handle:
            meta = pq.ParquetFile(handle).metadata
        group, rows = [], 0
        for n in range(meta.num_row_groups):
            group.append(n)
            rows += meta.row_group(n).num_rows
            if rows >= size:
                chunks.append(Staged(part, tuple(group)))
                group, rows = [], 0
        if group:
            chunks.append(Staged(part, tuple(group)))
    return chunks
