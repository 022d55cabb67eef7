"""Parquet of typed, nested records: every field a column, dicts as structs or maps, lists as lists.

A page is shaped by the export's :class:`~airflow_provider_akinon.schema.evolving.Evolving` schema (Arrow's
JSON reader, in C++: no record is converted in Python) and written as one row group, with ``_record``,
the record as the API sent it, beside it. A page shaped under a schema the open file does not have starts
a new part file; when every writer is done, :func:`one_schema` rewrites the parts of an older schema, a
row group at a time, so every part of an export has the manifest's schema and a reader needs no
``union_by_name``.
"""

from __future__ import annotations

import array
import itertools
from collections.abc import Sequence
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from airflow_provider_akinon.hooks.paging.records import Records
from airflow_provider_akinon.schema.evolving import Evolving, conform

RECORD = pa.field("_record", pa.string(), nullable=False)


def file_schema(schema: pa.Schema) -> pa.Schema:
    """The schema of a part file: the export's, and ``_record``."""
    return schema.append(RECORD)


def shape(evolving: Evolving, records: Records) -> pa.Table:
    """``records`` as a table of the export's schema and ``_record`` (records a contract discards left out)."""
    raw: Sequence[Any] = records.raw if records.raw is not None else [orjson.dumps(r) for r in records.parsed]
    raw = [bytes(r) for r in raw]
    table, rows = evolving.shape(raw)
    body = pa.py_buffer(b"".join(raw))
    offsets = pa.py_buffer(array.array("q", [0, *itertools.accumulate(map(len, raw))]))
    texts = pa.LargeStringArray.from_buffers(len(raw), offsets, body)
    if len(rows) != len(raw):
        texts = texts.take(rows)
    return table.append_column(RECORD, texts.cast(pa.string()))


class TypedParquetEncoder:
    """Write shaped pages (tables) as row groups of one Parquet file of one schema."""

    def __init__(self, sink: Any) -> None:
        self.sink = sink
        self.writer: Any = None
        self.written = 0

    def takes(self, page: pa.Table) -> bool:
        """Whether ``page`` has this file's schema (a new file starts for one that has not)."""
        return self.writer is None or page.schema == self.writer.schema

    def write(self, page: pa.Table) -> None:
        """Write ``page`` as one row group."""
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.sink, page.schema, compression="zstd")
        self.writer.write_table(page)
        self.written += page.nbytes

    def close(self) -> None:
        """Write the file's footer (an empty file still gets the schema of an empty page)."""
        if self.writer is not None:
            self.writer.close()


def one_schema(folder: Any, parts: list[Any], schema: pa.Schema) -> list[tuple[Any, dict[str, Any]]]:
    """Rewrite the parts under ``folder`` whose schema is not ``schema`` (with ``_record``), a row group
    at a time, the old file removed: ``(part, its new name, bytes and hash)`` for each rewritten."""
    from airflow_provider_akinon.exports.formats.parts import HashingFile

    target = file_schema(schema)
    rewritten = []
    for part in parts:
        path = f"{folder.path}/{part.name}"
        with folder.fs.open(path, "rb") as handle:
            if pq.ParquetFile(handle).schema_arrow == target:
                continue
        name = part.name.replace(".parquet", "-v.parquet")
        out = HashingFile(folder.fs.open(f"{folder.path}/{name}", "wb"))
        with folder.fs.open(path, "rb") as handle:
            source = pq.ParquetFile(handle)
            with pq.ParquetWriter(out, target, compression="zstd") as writer:
                for group in range(source.num_row_groups):
                    writer.write_table(conform(source.read_row_group(group), target))
        out.close()
        folder.fs.rm(path)
        rewritten.append((part, {"name": name, "bytes": out.bytes, "sha256": out.sha.hexdigest()}))
    return rewritten


class TypedPages:
    """The pages of one export shaped by its :class:`Evolving` schema (what a part writer calls)."""

    def __init__(self, evolving: Evolving) -> None:
        self.evolving = evolving

    def shape(self, records: Records) -> pa.Table:
        """``records`` as a table of the export's schema, with ``_record``."""
        return shape(self.evolving, records)

    @property
    def schema(self) -> pa.Schema:
        """The export's schema as it stands (the next export's baseline)."""
        return self.evolving.schema

    @property
    def discarded(self) -> int:
        """Records the contract left out."""
        return self.evolving.discarded

    def describe(self) -> dict[str, Any]:
        """The schema, its changes, the contract, what was discarded: for the manifest."""
        return self.evolving.describe()

    def finish(self, folder: Any, parts: list[Any]) -> list[Any]:
        """``parts`` once every one has the export's final schema (rewritten where older)."""
        from airflow_provider_akinon.exports.formats.parts import PartFile

        done = {id(old): new for old, new in one_schema(folder, parts, self.evolving.schema)}
        return [p if id(p) not in done else PartFile(**{**p.as_dict(), **done[id(p)]}) for p in parts]
