"""Record writers: JSON Lines, gzipped JSON Lines and Parquet part files, rotated by size, hashed as written."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import Any, BinaryIO

from airflow_provider_akinon.errors import AkinonConfigError
from airflow_provider_akinon.hooks.records import Records
from airflow_provider_akinon.resources import Resource

FORMATS = ("jsonl", "jsonl.gz", "parquet", "delta")
DEFAULT_MAX_FILE_BYTES = 256 * 1024 * 1024


@dataclass
class PartFile:
    """One finished part file: what the manifest lists."""

    name: str
    records: int
    bytes: int
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "records": self.records, "bytes": self.bytes, "sha256": self.sha256}


class _HashingFile:
    """A write-only file wrapper that counts and hashes the bytes that reach storage."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.bytes = 0
        self.sha = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.raw.write(data)
        self.sha.update(data)
        self.bytes += len(data)
        return len(data)

    def flush(self) -> None:
        self.raw.flush()

    def tell(self) -> int:
        return self.bytes

    def close(self) -> None:
        self.raw.close()

    @property
    def closed(self) -> bool:
        return self.raw.closed

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readable(self) -> bool:
        return False


class _JsonLines:
    suffix = "jsonl"

    def __init__(self, out: _HashingFile, resource: Resource, zone: tzinfo) -> None:
        self.out: Any = out
        self.written = 0

    def write(self, records: Records) -> None:
        blob = records.jsonl()
        self.out.write(blob)
        self.written += len(blob)

    def close(self) -> None:
        pass


class _GzipJsonLines(_JsonLines):
    suffix = "jsonl.gz"

    def __init__(self, out: _HashingFile, resource: Resource, zone: tzinfo) -> None:
        super().__init__(out, resource, zone)
        # mtime=0: the same records give the same bytes, so reruns are byte-for-byte comparable
        self.out = gzip.GzipFile(fileobj=out, mode="wb", compresslevel=6, mtime=0)

    def close(self) -> None:
        self.out.close()


class _Parquet:
    """Typed columns for the resource's key fields plus ``_record``, the whole record as JSON text."""

    suffix = "parquet"

    def __init__(self, out: _HashingFile, resource: Resource, zone: tzinfo) -> None:
        from airflow_provider_akinon.exports.parquet import ParquetEncoder

        self.encoder = ParquetEncoder(resource, out, zone)
        self.written = 0

    def write(self, records: Records) -> None:
        self.written += self.encoder.write(records)

    def close(self) -> None:
        self.encoder.close()


# delta: staged as Parquet, then merged into the table (exports/delta.py)
_FORMAT_CLASSES = {"jsonl": _JsonLines, "jsonl.gz": _GzipJsonLines, "parquet": _Parquet, "delta": _Parquet}


def check_format(file_format: str) -> None:
    """Refuse unknown formats, and Parquet without pyarrow, before any request."""
    if file_format not in _FORMAT_CLASSES:
        raise AkinonConfigError(
            f"file_format={file_format!r} is not supported; use one of {', '.join(FORMATS)}."
        )
    if file_format in ("parquet", "delta"):
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise AkinonConfigError(
                f"file_format={file_format!r} needs pyarrow: pip install 'airflow-provider-akinon[parquet]'."
            ) from None
    if file_format == "delta":
        from airflow_provider_akinon.exports.delta import check_delta

        check_delta()


class PartWriter:
    """
    Write records into ``{prefix}-{n:03d}.{suffix}`` files under ``folder``, starting a new file past
    ``max_file_bytes``. Memory: one encoded page at a time (Parquet: one row group per page).

    :param folder: an ``ObjectStoragePath`` (the staging folder).
    :param prefix: file name prefix, unique per writer.
    :param zone: the time zone of timestamps without an offset (typed Parquet columns).
    :param guard: ``guard(what, path)`` is a context that turns storage errors into clear ones.
    """

    def __init__(
        self,
        folder: Any,
        prefix: str,
        file_format: str,
        resource: Resource,
        max_file_bytes: int,
        zone: tzinfo = UTC,
        guard: Callable[[str, Any], AbstractContextManager[Any]] | None = None,
    ) -> None:
        self.zone = zone
        self.guard = guard or (lambda what, path: contextlib.nullcontext())
        self.folder = folder
        self.prefix = prefix
        self.cls = _FORMAT_CLASSES[file_format]
        self.resource = resource
        self.max_file_bytes = max_file_bytes
        self.files: list[PartFile] = []
        self._current: Any = None
        self._file: _HashingFile | None = None
        self._records = 0
        self._name = ""

    @property
    def records(self) -> int:
        return sum(f.records for f in self.files) + self._records

    def write(self, records: Records) -> None:
        if not len(records):
            return
        with self.guard("write", f"{self.folder}/{self._name or self.prefix}"):
            if self._current is None:
                self._open()
            self._current.write(records)
            self._records += len(records)
            if self._current.written >= self.max_file_bytes:
                self._finish()

    def _open(self) -> None:
        self._name = f"{self.prefix}-{len(self.files):03d}.{self.cls.suffix}"
        # the filesystem's own open: ObjectStoragePath.open adds ~12 ms and per-write lineage hooks,
        # and the export reports its lineage itself (get_openlineage_facets_on_complete)
        self._file = _HashingFile(self.folder.fs.open(f"{self.folder.path}/{self._name}", "wb"))
        self._current = self.cls(self._file, self.resource, self.zone)
        self._records = 0

    def _finish(self) -> None:
        self._current.close()
        self._file.close()
        self.files.append(PartFile(self._name, self._records, self._file.bytes, self._file.sha.hexdigest()))
        self._current = self._file = None
        self._records = 0

    def close(self) -> list[PartFile]:
        """Finish the open file; return every file written."""
        if self._current is not None:
            with self.guard("write", f"{self.folder}/{self._name}"):
                self._finish()
        return self.files

    def abort(self) -> None:
        """Give up the open file without publishing it (object stores upload buffered files on close)."""
        if self._current is None:
            return
        raw = self._file.raw
        self._current = self._file = None
        try:
            raw.discard()  # buffered object-store files: drop the buffer, upload nothing
            raw.closed = True  # else fsspec's __del__ still tries to flush the dropped buffer
        except Exception:  # local files cannot discard: close them, staging is removed next
            with contextlib.suppress(Exception):
                raw.close()

    def discard(self) -> None:
        """Drop everything written so far (a shard that is walked again)."""
        self.abort()  # the open file: dropped, never uploaded
        for part in self.files:
            (self.folder / part.name).unlink(missing_ok=True)
        self.files = []
        self._records = 0
