"""JSON Lines (``jsonl``) and gzipped JSON Lines (``jsonl.gz``): records as the API sent them, one a line."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import tzinfo
from typing import Any, BinaryIO

import orjson

from airflow_provider_akinon.exports.formats.base import Encoder, Format
from airflow_provider_akinon.hooks.paging.records import Records
from airflow_provider_akinon.resources import Resource


class _Lines:
    """The records' own bytes, one line each (see :class:`~airflow_provider_akinon.hooks.paging.records.PageDecoder`)."""

    def __init__(self, out: Any, *, stream: gzip.GzipFile | None = None) -> None:
        self.out = stream or out
        self.stream = stream
        self.written = 0

    def write(self, records: Records) -> None:
        blob = records.jsonl()
        self.out.write(blob)
        self.written += len(blob)

    def close(self) -> None:
        if self.stream is not None:
            self.stream.close()  # the gzip trailer; the file itself is the part writer's to close


class JsonLines(Format):
    """JSON Lines: each record the bytes the API sent, one a line."""

    name = "jsonl"
    suffix = "jsonl"

    def encoder(self, out: BinaryIO, resource: Resource, zone: tzinfo, *, shaped: bool = False) -> Encoder:
        """Write the records' own bytes into ``out``, one a line."""
        return _Lines(out)

    def read(self, handle: BinaryIO, column: str | None) -> Iterator[Any]:
        """The records of one part file, a line each (or one top-level ``column`` of each)."""
        # readline, not iteration: Airflow 2's file wrapper does not implement __iter__
        for line in iter(handle.readline, b""):
            if line.strip():
                record = orjson.loads(line)
                yield record if column is None else record[column]


class GzipJsonLines(JsonLines):
    """Gzipped JSON Lines, byte-for-byte the same for the same records (``mtime=0``)."""

    name = "jsonl.gz"
    suffix = "jsonl.gz"

    def encoder(self, out: BinaryIO, resource: Resource, zone: tzinfo, *, shaped: bool = False) -> Encoder:
        """Write JSON Lines through a gzip stream into ``out``."""
        # mtime=0: the same records give the same bytes, so reruns are byte-for-byte comparable
        return _Lines(out, stream=gzip.GzipFile(fileobj=out, mode="wb", compresslevel=6, mtime=0))

    def read(self, handle: BinaryIO, column: str | None) -> Iterator[Any]:
        """The records of one gzipped part file (see :meth:`JsonLines.read`)."""
        yield from super().read(gzip.GzipFile(fileobj=handle), column)  # type: ignore[arg-type]
