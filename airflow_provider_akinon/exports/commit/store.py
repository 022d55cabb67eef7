"""The few storage primitives the commit protocol needs, for a local disk and for S3.

The protocol (:mod:`~airflow_provider_akinon.exports.commit.protocol`) is written against
:class:`Store`, keys relative to one export's destination:

- :meth:`~Store.read` a small object with its etag; :meth:`~Store.create` it only where absent and
  :meth:`~Store.swap` it only while unchanged (compare-and-swap): the only writes a decision rests on;
- :meth:`~Store.place` a file under another key: a rename on a disk (the file keeps its time, so
  :meth:`~Store.touch` it first where the place must date it), a server-side copy on S3 (dated now);
- :meth:`~Store.put`, :meth:`~Store.delete` and :meth:`~Store.listing` (times by the store's own clock).

On a local disk a create is a hard link (it fails where the name exists) and a swap a rename made while
an ``flock`` of ``_akinon/.cas.lock`` is held: the kernel releases it when its holder dies, so a killed
writer never leaves it held. On S3 both are conditional PUTs (``If-None-Match: *``, ``If-Match``), which
AWS S3 (since 2024), MinIO and R2 honour. Other schemes have no compare-and-swap that this provider has
tested, so exports there are refused with the reason.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from airflow_provider_akinon.errors import DestinationError, WriteConflict

BOOKKEEPING = "_akinon/"
CAS_LOCK = f"{BOOKKEEPING}.cas.lock"


@dataclass(frozen=True)
class Found:
    """A small object as read (the lease, a manifest): its bytes, and the etag a :meth:`Store.swap` must
    name to replace it (the MD5 of its bytes, as S3 computes its ETag)."""

    data: bytes
    etag: str


@dataclass(frozen=True)
class Entry:
    """One listed object: its key (folders end with ``/``) and when it was last written, in the store's clock."""

    key: str
    modified: float


class Store:
    """Storage under one root, addressed by keys relative to it (``part-00000-1a2b3c4d.jsonl``)."""

    uri: str = ""

    def read(self, key: str) -> Found | None:
        """The object at ``key`` with its etag, or ``None`` where there is none."""
        raise NotImplementedError

    def create(self, key: str, data: bytes) -> str:
        """Write ``key`` only where it does not exist; return its etag (:class:`WriteConflict` otherwise)."""
        raise NotImplementedError

    def swap(self, key: str, data: bytes, etag: str) -> str:
        """Replace ``key`` only while its etag is ``etag``; return the new etag (:class:`WriteConflict`)."""
        raise NotImplementedError

    def put(self, key: str, data: bytes) -> None:
        """Write ``key`` whole, whatever was there (a reader finds the old bytes or the new ones)."""
        raise NotImplementedError

    def delete(self, key: str) -> None:
        """Remove ``key``; nothing to remove is no error."""
        raise NotImplementedError

    def touch(self, key: str) -> None:
        """Make a :meth:`place` of ``key`` date its target now: nothing to do where a place is a copy."""

    def place(self, source: str, target: str) -> None:
        """Make ``target`` hold ``source``'s bytes (``source`` may stay); ``FileNotFoundError`` without it."""
        raise NotImplementedError

    def listing(self, prefix: str, *, recursive: bool = False) -> list[Entry]:
        """The objects under ``prefix`` (a folder key ending with ``/``, or ``""``), fresh from the store."""
        raise NotImplementedError


def etag_of(data: bytes) -> str:
    """The etag of a small object written in one piece, as S3 computes it (its MD5)."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


class LocalStore(Store):
    """
    A folder on a local (or network) file system.

    :param root: the folder's path.
    :param scratch: a key prefix (a folder of this run's) where whole-file writes are prepared.
    """

    def __init__(self, root: str, scratch: str) -> None:
        self.root = root.rstrip("/")
        self.uri = f"file://{self.root}/"
        self.scratch = scratch

    def _path(self, key: str) -> str:
        return f"{self.root}/{key}"

    def read(self, key: str) -> Found | None:
        """The file at ``key``, its etag the MD5 of its bytes."""
        try:
            with open(self._path(key), "rb") as handle:
                data = handle.read()
        except (FileNotFoundError, NotADirectoryError):
            return None
        return Found(data, etag_of(data))

    def _prepared(self, data: bytes) -> str:
        """``data`` in a new file of the scratch folder, on disk (renamed or linked into place next)."""
        folder = self._path(self.scratch)
        os.makedirs(folder, exist_ok=True)
        path = f"{folder}/.write-{uuid.uuid4().hex}"
        with open(path, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        return path

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Hold the folder's compare-and-swap lock (a kernel lock: released when its holder dies)."""
        path = self._path(CAS_LOCK)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def create(self, key: str, data: bytes) -> str:
        """Hard-link a prepared file to ``key`` under the lock: it fails where the name exists."""
        prepared = self._prepared(data)
        try:
            os.makedirs(os.path.dirname(self._path(key)), exist_ok=True)
            with self._exclusive():
                os.link(prepared, self._path(key))
        except FileExistsError:
            raise WriteConflict(key) from None
        finally:
            os.unlink(prepared)
        return etag_of(data)

    def swap(self, key: str, data: bytes, etag: str) -> str:
        """Rename a prepared file onto ``key`` under the lock, while its etag is ``etag``."""
        prepared = self._prepared(data)
        try:
            with self._exclusive():
                current = self.read(key)
                if current is None or current.etag != etag:
                    raise WriteConflict(key)
                os.replace(prepared, self._path(key))
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(prepared)
        return etag_of(data)

    def put(self, key: str, data: bytes) -> None:
        """Rename a prepared file onto ``key``."""
        prepared = self._prepared(data)
        os.makedirs(os.path.dirname(self._path(key)), exist_ok=True)
        os.replace(prepared, self._path(key))

    def delete(self, key: str) -> None:
        """Remove ``key``, and its folder under ``_akinon/`` once empty (a run's staging)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path(key))
        if (folder := os.path.dirname(key)).startswith(BOOKKEEPING) and folder.count("/") >= 2:
            with contextlib.suppress(OSError):
                os.rmdir(self._path(folder))

    def touch(self, key: str) -> None:
        """Set the file's modification time to now: a :meth:`place`, a rename, keeps it."""
        os.utime(self._path(key))

    def place(self, source: str, target: str) -> None:
        """Rename ``source`` to ``target`` (``source`` does not stay; the file keeps its time)."""
        os.makedirs(os.path.dirname(self._path(target)), exist_ok=True)
        os.rename(self._path(source), self._path(target))

    def listing(self, prefix: str, *, recursive: bool = False) -> list[Entry]:
        """The files under ``prefix`` with their mtimes, and its folders (or their files, ``recursive``)."""
        found: list[Entry] = []
        try:
            entries = list(os.scandir(self._path(prefix)))
        except (FileNotFoundError, NotADirectoryError):
            return found
        for entry in entries:
            key = f"{prefix}{entry.name}"
            with contextlib.suppress(FileNotFoundError):  # removed while listed
                if entry.is_dir(follow_symlinks=False):
                    found += self.listing(f"{key}/", recursive=True) if recursive else [Entry(f"{key}/", 0.0)]
                else:
                    found.append(Entry(key, entry.stat(follow_symlinks=False).st_mtime))
        return found


class S3Store(Store):
    """A prefix of an S3 bucket, through the ``s3fs`` file system of an Airflow connection."""

    def __init__(self, fs: Any, bucket: str, prefix: str) -> None:
        self.fs = fs
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.uri = f"s3://{bucket}/{self.prefix}/" if self.prefix else f"s3://{bucket}/"

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _call(self, method: str, key: str, **kwargs: Any) -> Any:
        """One S3 call (s3fs retries throttling and 5xx); a lost condition becomes :class:`WriteConflict`."""
        try:
            return self.fs.call_s3(method, Bucket=self.bucket, Key=self._key(key), **kwargs)
        except OSError as err:
            code = getattr(err.__cause__, "response", {}).get("Error", {}).get("Code")
            if code in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise WriteConflict(key) from None
            raise

    def read(self, key: str) -> Found | None:
        """The object at ``key`` and its etag, in one GET."""
        from fsspec.asyn import sync

        async def get() -> Found | None:
            try:
                answer = await self.fs._call_s3("get_object", Bucket=self.bucket, Key=self._key(key))
            except FileNotFoundError:
                return None
            try:
                data = await answer["Body"].read()
            finally:
                answer["Body"].close()
            return Found(data, answer["ETag"].strip('"'))

        return sync(self.fs.loop, get)

    def create(self, key: str, data: bytes) -> str:
        """Create ``key`` with a PUT conditional on ``If-None-Match: *``."""
        return self._call("put_object", key, Body=data, IfNoneMatch="*")["ETag"].strip('"')

    def swap(self, key: str, data: bytes, etag: str) -> str:
        """Replace ``key`` with a PUT conditional on ``If-Match``; a key gone since is a conflict."""
        try:
            return self._call("put_object", key, Body=data, IfMatch=f'"{etag}"')["ETag"].strip('"')
        except FileNotFoundError:  # gone since it was read
            raise WriteConflict(key) from None

    def put(self, key: str, data: bytes) -> None:
        """Write ``key`` with a plain PUT."""
        self._call("put_object", key, Body=data)

    def delete(self, key: str) -> None:
        """Delete ``key``; a missing one is no error."""
        with contextlib.suppress(FileNotFoundError):
            self._call("delete_object", key)

    def place(self, source: str, target: str) -> None:
        """Copy ``source`` to ``target`` on the server (``source`` stays; the copy is dated now)."""
        self._call("copy_object", target, CopySource={"Bucket": self.bucket, "Key": self._key(source)})

    def listing(self, prefix: str, *, recursive: bool = False) -> list[Entry]:
        """The objects under ``prefix``, every page of ``list_objects_v2``, times by S3's clock."""
        root = f"{self.prefix}/" if self.prefix else ""
        found: list[Entry] = []
        query = {"Bucket": self.bucket, "Prefix": root + prefix, **({} if recursive else {"Delimiter": "/"})}
        while True:
            page = self.fs.call_s3("list_objects_v2", **query)
            contents = page.get("Contents", ())
            found += [Entry(o["Key"][len(root) :], o["LastModified"].timestamp()) for o in contents]
            found += [Entry(p["Prefix"][len(root) :], 0.0) for p in page.get("CommonPrefixes", ())]
            if not page.get("IsTruncated"):
                return found
            query["ContinuationToken"] = page["NextContinuationToken"]


def store_for(destination: Any, scratch: str) -> Store:
    """The :class:`Store` of an ``ObjectStoragePath`` destination (``file://`` or ``s3://``)."""
    protocol = destination.protocol or "file"
    if protocol in ("file", "local"):
        return LocalStore(destination.fs._strip_protocol(destination.path), scratch)
    if protocol in ("s3", "s3a"):
        bucket, _, prefix = destination.path.partition("/")
        return S3Store(destination.fs, bucket, prefix)
    raise DestinationError(
        f"Cannot export to {destination}: {protocol}:// offers no compare-and-swap write this provider has "
        "tested, and publishing an export safely needs one. Export to s3:// (or an S3-compatible store: "
        "MinIO, R2) or to a local or mounted folder."
    )
