"""Read a published export back, record by record, whatever its format (the manifest lists the files)."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from typing import Any

import orjson

from airflow_provider_akinon.exports.target import destination_path, read_manifest


def iter_export_records(uri: Any, *, column: str | None = None) -> Iterator[Any]:
    """
    Yield the records of the export at ``uri`` in file order, streaming (one file open at a time).

    :param column: yield only this top-level field of each record (cheap for Parquet).
    """
    folder = destination_path(uri)
    for entry in read_manifest(folder)["files"]:
        path = folder / entry["name"]
        with path.open("rb") as raw:
            if entry["name"].endswith(".parquet"):
                yield from _parquet_rows(raw, column)
                continue
            stream = gzip.GzipFile(fileobj=raw) if entry["name"].endswith(".gz") else raw
            # readline, not iteration: Airflow 2's file wrapper does not implement __iter__
            for line in iter(stream.readline, b""):
                if line.strip():
                    record = orjson.loads(line)
                    yield record if column is None else record[column]


def _parquet_rows(handle: Any, column: str | None) -> Iterator[Any]:
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(handle)
    if column is not None and column in parquet.schema_arrow.names:
        for batch in parquet.iter_batches(columns=[column]):
            yield from batch.column(0).to_pylist()
        return
    for batch in parquet.iter_batches(columns=["_record"]):
        for text in batch.column(0).to_pylist():
            record = orjson.loads(text)
            yield record if column is None else record[column]
