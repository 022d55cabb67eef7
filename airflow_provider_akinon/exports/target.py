"""Where an export lands: its own staging folder while written, the destination once complete.

Layout of a published export::

    {destination}/part-00000.jsonl
    {destination}/part-00001.jsonl
    {destination}/_manifest.json      <- written last: an export without it is not complete

While running, files go to ``{destination}/_staging/{token}/``, a folder of this run alone: runs of the
same partition at once (a retry beside a zombie attempt, a cleared backfill run) never touch each other's
staging. Staging left by a dead run is removed by a later run: at once when that run was a process of the
same machine that no longer exists (its ``_run.json`` names host and pid), else once it is older than
``stale_after`` (24 h).

Publishing holds ``{destination}/_publish.lock``, created exclusively (``O_EXCL`` on local disks, a
conditional ``If-None-Match: *`` PUT on S3), so two publishes of one partition run one after the other:
the last one wins whole, and the manifest always lists exactly the part files present. Under the lock,
the old manifest goes first, old parts the new export does not have are removed, the new parts move in
(a rename on local disks, a server-side copy on object stores) and the manifest comes last.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from airflow_provider_akinon import __version__
from airflow_provider_akinon.compat import AirflowException, ObjectStoragePath
from airflow_provider_akinon.exports.writers import PartFile

log = logging.getLogger(__name__)

MANIFEST = "_manifest.json"
STAGING = "_staging"
LOCK = "_publish.lock"
RUN = "_run.json"
TOKEN_TIME = "%Y%m%dT%H%M%S"


class DestinationError(AirflowException):
    """The destination cannot be written; the message names the path, the cause and the fix."""


def destination_path(destination: Any) -> ObjectStoragePath:
    """An ``ObjectStoragePath`` for a URI, a local path (``file://`` is implied) or a path object."""
    if isinstance(destination, ObjectStoragePath):
        return destination
    if not isinstance(destination, str | os.PathLike) or not str(destination).strip():
        raise AirflowException(
            f"destination={destination!r} is not a path; use e.g. 'file:///data/akinon/orders/date=2026-01-01/' "
            "or 's3://aws_default@bucket/akinon/orders/date=2026-01-01/'."
        )
    text = str(destination).strip()
    if "://" not in text:
        text = "file://" + os.path.abspath(text)
    try:
        path = ObjectStoragePath(text)
        path.fs  # noqa: B018 - resolve the filesystem now: Airflow 2 defers unknown schemes to first use
    except Exception as err:
        raise AirflowException(
            f"destination {text!r} cannot be opened as object storage ({type(err).__name__}: {err}); "
            "check the scheme and install its provider (s3:// needs apache-airflow-providers-amazon[s3fs])."
        ) from None
    if path.protocol in ("", "file") and text.rstrip("/") in ("file:", "file://"):
        raise AirflowException("destination must name a folder, not the file system root.")
    return path


class ExportTarget:
    """
    Staging, publishing and the manifest of one export into ``destination``.

    :param stale_after: staging folders of other runs older than this are removed.
    :param lock_timeout: a publish lock older than this was left by a dead run and is broken.
    """

    def __init__(
        self,
        destination: ObjectStoragePath,
        *,
        stale_after: timedelta = timedelta(hours=24),
        lock_timeout: timedelta = timedelta(minutes=15),
    ) -> None:
        self.destination = destination
        self.stale_after = stale_after
        self.lock_timeout = lock_timeout
        self.token = f"{datetime.now(UTC).strftime(TOKEN_TIME)}-{uuid.uuid4().hex[:8]}"
        self.staging = destination / STAGING / self.token

    @property
    def uri(self) -> str:
        return str(self.destination).rstrip("/") + "/"

    @property
    def fs(self) -> Any:
        return self.destination.fs

    @contextlib.contextmanager
    def writable(self, what: str) -> Iterator[None]:
        """Turn storage errors into a :class:`DestinationError` that names the path and the fix."""
        try:
            yield
        except (PermissionError, NotADirectoryError, FileExistsError, IsADirectoryError, OSError) as err:
            if isinstance(err, FileNotFoundError) and what != "prepare":
                raise
            cause = f"{type(err).__name__}: {getattr(err, 'strerror', None) or err}"
            raise DestinationError(
                f"Cannot {what} the export at {self.uri} ({cause}). Give this worker write access to it "
                "(file permissions, or the bucket policy of the connection's credentials), or choose "
                "another destination."
            ) from None

    def prepare(self) -> None:
        """Create this run's staging folder (checked writable), removing stale staging of dead runs."""
        with self.writable("prepare"):
            self._sweep_stale()
            self.staging.mkdir(parents=True, exist_ok=True)
            with self.fs.open((self.staging / RUN).path, "wb") as out:
                out.write(orjson.dumps(_run_identity(self.token)))

    def _sweep_stale(self) -> None:
        root = self.destination / STAGING
        if not root.exists():
            return
        now = datetime.now(UTC)
        for entry in root.iterdir():
            try:
                started = datetime.strptime(entry.name.split("-")[0], TOKEN_TIME).replace(tzinfo=UTC)
            except ValueError:
                continue  # not a staging folder of ours
            if now - started > self.stale_after or self._run_is_gone(entry):
                log.info("Removing the staging folder of a run that is gone: %s", entry)
                self._rm_tree(entry)

    def _run_is_gone(self, staging: ObjectStoragePath) -> bool:
        """True when the run of ``staging`` was a process of this machine that no longer exists."""
        try:
            with self.fs.open((staging / RUN).path, "rb") as handle:
                run = orjson.loads(handle.read())
        except (FileNotFoundError, orjson.JSONDecodeError):
            return False
        if run.get("host") != socket.gethostname() or not isinstance(run.get("pid"), int):
            return False
        try:
            os.kill(run["pid"], 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # alive, another user's
            return False
        return False

    def abandon(self) -> None:
        """Remove this run's staging folder (after a failure); the published export is untouched."""
        with contextlib.suppress(Exception):  # cleanup must not hide the original error
            self._rm_tree(self.staging)

    def _rm_tree(self, path: ObjectStoragePath) -> None:
        path.fs.invalidate_cache(path.path)  # listings cached while files were written are stale
        with contextlib.suppress(FileNotFoundError):
            path.fs.rm(path.path, recursive=True)
        if path.parent.name == STAGING and path.protocol in ("file", "local"):
            with contextlib.suppress(OSError):  # the last run out removes the (empty) staging folder;
                path.fs.rmdir(path.parent.path)  # object stores have no folders to remove

    def publish(self, parts: list[PartFile], manifest: dict[str, Any]) -> dict[str, Any]:
        """Move staged ``parts`` (in order) to ``part-NNNNN.*`` names, then write the manifest last."""
        staged = [p for p in parts if p.records]
        final = [
            PartFile(f"part-{number:05d}.{part.name.split('.', 1)[1]}", part.records, part.bytes, part.sha256)
            for number, part in enumerate(staged)
        ]
        manifest = {**manifest, "files": [f.as_dict() for f in final], "provider_version": __version__}
        with self.writable("publish"):
            with self.fs.open((self.staging / MANIFEST).path, "wb") as out:
                out.write(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
            with self._publish_lock() as heartbeat:
                self._swap(staged, final, heartbeat)
        self._rm_tree(self.staging)
        return manifest

    def _swap(self, staged: list[PartFile], final: list[PartFile], heartbeat: Callable[[], None]) -> None:
        fs, old_manifest = self.fs, self.destination / MANIFEST
        fs.invalidate_cache(self.destination.path)  # another run may have published since we listed
        if old_manifest.exists():
            old_manifest.unlink()
        keep = {f.name for f in final}
        for entry in self.destination.iterdir():
            if entry.name.startswith("part-") and entry.name not in keep:
                entry.unlink()
        for part, target in zip(staged, final, strict=True):
            fs.mv((self.staging / part.name).path, (self.destination / target.name).path)
            heartbeat()  # a long publish (server-side copies of big parts) keeps its lock fresh
        fs.mv((self.staging / MANIFEST).path, old_manifest.path)

    @contextlib.contextmanager
    def _publish_lock(self) -> Iterator[Callable[[], None]]:
        """
        Hold ``_publish.lock`` (exclusive create); wait for another publisher; break a dead one's lock.
        Yields a heartbeat that rewrites the lock, so a live publish is never taken for a dead one.
        """
        lock = (self.destination / LOCK).path
        waited = 0.0
        while True:
            try:
                with self.fs.open(lock, "xb") as out:
                    out.write(orjson.dumps({"token": self.token, "at": time.time()}))
                break
            except FileExistsError:
                pass
            except (ValueError, NotImplementedError, TypeError):  # a filesystem without exclusive create
                log.warning("%s cannot create files exclusively: publishing without a lock", self.fs.protocol)
                yield lambda: None
                return
            owner = self._lock_owner(lock)
            if self._lock_age(lock) > self.lock_timeout.total_seconds() and self._lock_owner(lock) == owner:
                log.warning("Breaking the publish lock of a dead run (%s) at %s", owner, lock)
                with contextlib.suppress(FileNotFoundError):
                    self.fs.rm(lock)
                continue
            if waited == 0:
                log.info("Another run is publishing %s; waiting for it", self.uri)
            time.sleep(0.2)
            waited += 0.2

        def heartbeat() -> None:
            if self._lock_owner(lock) == self.token:
                with self.fs.open(lock, "wb") as out:
                    out.write(orjson.dumps({"token": self.token, "at": time.time()}))

        try:
            yield heartbeat
        finally:
            if self._lock_owner(lock) == self.token:  # never another run's lock
                with contextlib.suppress(FileNotFoundError):
                    self.fs.rm(lock)

    def _lock_owner(self, lock: str) -> str | None:
        """The token of the run holding ``lock`` (``None``: no lock, or not readable yet)."""
        self.fs.invalidate_cache(lock)
        try:
            with self.fs.open(lock, "rb") as handle:
                return orjson.loads(handle.read()).get("token")
        except (FileNotFoundError, orjson.JSONDecodeError, AttributeError):
            return None

    def _lock_age(self, lock: str) -> float:
        try:
            return (datetime.now(UTC) - self.fs.modified(lock).astimezone(UTC)).total_seconds()
        except FileNotFoundError:
            return 0.0


def _run_identity(token: str) -> dict[str, Any]:
    return {"token": token, "host": socket.gethostname(), "pid": os.getpid(), "provider_version": __version__}


def read_manifest(folder: Any) -> dict[str, Any]:
    """Read the manifest of a published export; refuse a folder without one (incomplete or missing)."""
    path = destination_path(folder)
    manifest = path / MANIFEST
    if not manifest.exists():
        raise AirflowException(
            f"{str(path).rstrip('/')}/ has no {MANIFEST}: the export is missing or incomplete; rerun it first."
        )
    with manifest.open("rb") as handle:
        return orjson.loads(handle.read())
