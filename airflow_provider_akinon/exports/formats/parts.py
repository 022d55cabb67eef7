"""Part files: one stream of them per writer, rotated by size, hashed as written, listed in the manifest."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from typing import TYPE_CHECKING, Any, BinaryIO

from airflow_provider_akinon.hooks.paging.records import Records
from airflow_provider_akinon.resources import Resource

if TYPE_CHECKING:
    from airflow_provider_akinon.exports.formats.base import Encoder, Format

DEFAULT_MAX_FILE_BYTES = 256 * 1024 * 1024


@dataclass
class PartFile:
    """One finished part file: what the manifest lists."""

    name: str
    records: int
    bytes: int
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        """The part's entry in the manifest."""
        return {"name": self.name, "records": self.records, "bytes": self.bytes, "sha256": self.sha256}


class HashingFile:
    """A write-only file wrapper that counts and hashes the bytes that reach storage."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.bytes = 0
        self.sha = hashlib.sha256()

    def write(self, data: bytes) -> int:
        """Write ``data`` through, hashing and counting it."""
        self.raw.write(data)
        self.sha.update(data)
        self.bytes += len(data)
        return len(data)

    def flush(self) -> None:
        """Flush the wrapped file."""
        self.raw.flush()

    def tell(self) -> int:
        """The bytes written so far (the position of a write-only stream)."""
        return self.bytes

    def close(self) -> None:
        """Close the wrapped file."""
        self.raw.close()

    @property
    def closed(self) -> bool:
        """Whether the wrapped file is closed."""
        return self.raw.closed

    def writable(self) -> bool:
        """Always ``True``."""
        return True

    def seekable(self) -> bool:
        """Always ``False``: the wrapper only appends."""
        return False

    def readable(self) -> bool:
        """Always ``False``: the wrapper is write-only."""
        return False


Guard = Callable[[str, Any], AbstractContextManager[Any]]


@dataclass(eq=False)
class PartWriter:
    """
    Write records into ``{prefix}-{n:03d}.{suffix}`` files under ``folder``, starting a new file past
    ``max_file_bytes``. Memory: one encoded page at a time (Parquet: one row group per page).

    :param folder: an ``ObjectStoragePath`` (the staging folder).
    :param prefix: file name prefix, unique per writer.
    :param format: the output format that encodes each part.
    :param zone: the time zone of timestamps without an offset (typed Parquet columns).
    :param guard: ``guard(what, path)`` is a context that turns storage errors into clear ones.
    :param shaper: the export's typed pages (``TypedPages``), shared by its writers; ``None``: records
        are encoded as they come.
    """

    folder: Any
    prefix: str
    format: Format
    resource: Resource
    max_file_bytes: int
    zone: tzinfo = UTC
    guard: Guard = field(default=lambda what, path: contextlib.nullcontext())
    shaper: Any = None
    files: list[PartFile] = field(default_factory=list, init=False)
    _current: Encoder | None = field(default=None, init=False)
    _file: HashingFile | None = field(default=None, init=False)
    _records: int = field(default=0, init=False)
    _name: str = field(default="", init=False)

    @property
    def records(self) -> int:
        """The records written so far, in finished files and the open one."""
        return sum(f.records for f in self.files) + self._records

    def write(self, records: Records) -> None:
        """Write ``records`` into the open part file; finish it once it reaches ``max_file_bytes``."""
        if not len(records):
            return
        page: Any = records if self.shaper is None else self.shaper.shape(records)
        with self.guard("write", f"{self.folder}/{self._name or self.prefix}"):
            if self._current is not None and self.shaper is not None and not self._current.takes(page):  # type: ignore[attr-defined]
                self._finish()  # the export's schema grew: its pages go in a new file of the new schema
            if self._current is None:
                self._current = self._open()
            self._current.write(page)
            self._records += len(page)
            if self._current.written >= self.max_file_bytes:
                self._finish()

    def _open(self) -> Encoder:
        self._name = f"{self.prefix}-{len(self.files):03d}.{self.format.suffix}"
        # the filesystem's own open: ObjectStoragePath.open adds ~12 ms and per-write lineage hooks,
        # and the export reports its lineage itself (get_openlineage_facets_on_complete)
        self._file = HashingFile(self.folder.fs.open(f"{self.folder.path}/{self._name}", "wb"))
        self._records = 0
        if self.shaper is None:  # a format's own encoder (a plugin's too: its signature as it was)
            return self.format.encoder(self._file, self.resource, self.zone)  # type: ignore[arg-type]
        return self.format.encoder(self._file, self.resource, self.zone, shaped=True)  # type: ignore[arg-type]

    def _finish(self) -> None:
        assert self._current is not None
        assert self._file is not None
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
        if self._file is None:
            return
        raw: Any = self._file.raw
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
