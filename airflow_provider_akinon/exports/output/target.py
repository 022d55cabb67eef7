"""Where an export lands: its own staging folder while written, the destination once complete.

Layout of a published export::

    {destination}/part-00000-1a2b3c4d.jsonl   <- parts named after the run that wrote them
    {destination}/part-00001-1a2b3c4d.jsonl
    {destination}/_manifest.json              <- the commit point: lists exactly the export's parts

The destination is shared: the provider owns only the files its manifests list (and its staging).
Before any request, a destination holding a Delta table, or part files of this provider's naming that
no manifest or staging of it accounts for, is refused; anything else (a user's ``part-0001.csv``, a
``README``) is left untouched beside the export.

While running, files go to ``{destination}/_staging/{token}/``, a folder of this run alone. Publishing,
under the publish lock (:mod:`~airflow_provider_akinon.exports.output.lock`), moves the new parts in under
names of their own (the previous export stays whole), replaces ``_manifest.json`` in one step (a rename
on local disks, one PUT on object stores), and only then removes the previous export's parts (the new
manifest lists them under ``replaces`` until they are gone). So a reader always finds the previous
export or the new one, whole, with its manifest; a run killed at any step leaves one of the two. Staging
(and parts a dead run moved in before its manifest) is removed by a later run: at once when that run was
a process of this machine that no longer exists, else once it is older than ``stale_after`` (24 h).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from airflow_provider_akinon import __version__
from airflow_provider_akinon.compat import ObjectStoragePath
from airflow_provider_akinon.errors import DestinationError
from airflow_provider_akinon.exports.output.lock import LOCK, PublishLock, process_is_gone
from airflow_provider_akinon.exports.output.parts import PartFile
from airflow_provider_akinon.exports.output.storage import (
    DELTA_LOG,
    MANIFEST,
    storage_problem,
)

log = logging.getLogger(__name__)

STAGING = "_staging"
RUN = "_run.json"
TOKEN_TIME = "%Y%m%dT%H%M%S"
#: Names this provider gives part files: ``part-00000-<run>.<suffix>`` (and ``part-00000.<suffix>``
#: before 0.3); a file so named that no manifest or staging of ours accounts for is not ours to touch.
PART_NAME = re.compile(r"^part-\d{5}(?:-(?P<run>[0-9a-f]{8}))?\.(?:jsonl|jsonl\.gz|parquet)$")


class ExportTarget:
    """
    Staging, publishing and the manifest of one export into ``destination``.

    :param stale_after: staging folders of other runs older than this are removed.
    :param lock_stale_after: a publish lock without a heartbeat for this long was left by a dead run.
    """

    def __init__(
        self,
        destination: ObjectStoragePath,
        *,
        stale_after: timedelta = timedelta(hours=24),
        lock_stale_after: timedelta = timedelta(minutes=2),
    ) -> None:
        self.destination = destination
        self.stale_after = stale_after
        self.lock_stale_after = lock_stale_after
        self.run_id = uuid.uuid4().hex[:8]
        self.token = f"{datetime.now(UTC).strftime(TOKEN_TIME)}-{self.run_id}"
        self.staging = destination / STAGING / self.token

    @property
    def uri(self) -> str:
        return str(self.destination).rstrip("/") + "/"

    @property
    def fs(self) -> Any:
        return self.destination.fs

    @property
    def local(self) -> bool:
        return self.destination.protocol in ("", "file", "local")

    @contextlib.contextmanager
    def writable(self, what: str, path: Any = None) -> Iterator[None]:
        """Turn storage errors into a :class:`DestinationError` that names the path, the cause and the fix."""
        try:
            yield
        except DestinationError:
            raise
        except Exception as err:
            problem = storage_problem(err)
            if problem is None:
                raise
            where = str(path) if path is not None else self.uri
            raise DestinationError(f"Cannot {what} {where}: {problem}.") from None

    # ------------------------------------------------------------------ before any request
    def check_owner(self, *, table: bool) -> None:
        """
        Refuse a destination this export may not write: a missing bucket; a Delta table, unless ``table``
        (or a folder of file exports if ``table``); part files of this provider's naming that no
        manifest or staging of it accounts for.
        """
        with self.writable("prepare the export at"):
            self._check_bucket()
            self.fs.invalidate_cache(self.destination.path)
            self._check_owner(table)

    def prepare(self) -> None:
        """Remove stale staging of dead runs, and create this run's staging folder."""
        with self.writable("prepare the export at"):
            self._sweep_stale()
            if self.local:  # object stores have no folders, and s3fs's mkdir would create a bucket
                self.staging.mkdir(parents=True, exist_ok=True)
            with self.fs.open((self.staging / RUN).path, "wb") as out:
                out.write(orjson.dumps(_run_identity(self.token)))

    def _check_bucket(self) -> None:
        bucket = "" if self.local else self.destination.path.split("/")[0]
        if bucket and not self.fs.exists(bucket):
            raise DestinationError(
                f"Cannot export to {self.uri}: the bucket {bucket!r} does not exist, or the connection's "
                "credentials cannot see it. Create it first (the provider never creates buckets), or fix "
                "the connection named in the URI."
            )

    def _names(self) -> set[str]:
        try:
            return {
                entry.rstrip("/").rsplit("/", 1)[-1]
                for entry in self.fs.ls(self.destination.path, detail=False)
            }
        except FileNotFoundError:
            return set()

    def _check_owner(self, table: bool) -> None:
        names = self._names()
        if not table and DELTA_LOG in names:
            raise DestinationError(
                f"{self.uri} holds a Delta table ({DELTA_LOG}/): an export there would mix files into the "
                "table's folder. Choose a folder of its own, or file_format='delta' to merge into the table."
            )
        if table and MANIFEST in names:
            raise DestinationError(
                f"{self.uri} holds a file export ({MANIFEST}), not a Delta table. Give the Delta table a "
                "folder of its own."
            )
        owned = self.manifest_names(self.current_manifest()) if MANIFEST in names else set()
        staged = {token.rsplit("-", 1)[-1] for token in self._staging_tokens()}
        foreign = sorted(
            name
            for name in names
            if (match := PART_NAME.match(name)) and name not in owned and match["run"] not in staged
        )
        if foreign:
            shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
            raise DestinationError(
                f"{self.uri} holds part files that no manifest of this provider lists ({shown}): another "
                "tool's files, or an export whose manifest was lost. Nothing was touched; move them away or "
                "choose another destination."
            )

    def _staging_tokens(self) -> list[str]:
        root = self.destination / STAGING
        try:
            entries = self.fs.ls(root.path, detail=False)
        except FileNotFoundError:
            return []
        return [entry.rstrip("/").rsplit("/", 1)[-1] for entry in entries]

    def _sweep_stale(self) -> None:
        """Remove the staging of dead runs, and parts such a run moved in that no manifest lists."""
        now = datetime.now(UTC)
        for token in self._staging_tokens():
            try:
                started = datetime.strptime(token.split("-")[0], TOKEN_TIME).replace(tzinfo=UTC)
            except ValueError:
                continue  # not a staging folder of ours
            entry = self.destination / STAGING / token
            if now - started > self.stale_after or self._run_is_gone(entry):
                log.info("Removing what a run that is gone left behind: %s", entry)
                self._remove_orphans(token.rsplit("-", 1)[-1])
                self._rm_tree(entry)

    def _remove_orphans(self, run_id: str) -> None:
        listed = self.manifest_names(self.current_manifest())
        for name in self._names():
            match = PART_NAME.match(name)
            if match and match["run"] == run_id and name not in listed:
                self._rm(name)

    def _run_is_gone(self, staging: ObjectStoragePath) -> bool:
        try:
            with self.fs.open((staging / RUN).path, "rb") as handle:
                run = orjson.loads(handle.read())
        except (FileNotFoundError, orjson.JSONDecodeError):
            return False
        return isinstance(run, dict) and process_is_gone(run)

    # ------------------------------------------------------------------ after the walk
    def abandon(self) -> None:
        """Remove this run's staging folder (after a failure); the published export is untouched."""
        with contextlib.suppress(Exception):  # cleanup must not hide the original error
            self._rm_tree(self.staging)

    def _rm(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm((self.destination / name).path)

    def _rm_tree(self, path: ObjectStoragePath) -> None:
        path.fs.invalidate_cache(path.path)  # listings cached while files were written are stale
        with contextlib.suppress(FileNotFoundError):
            path.fs.rm(path.path, recursive=True)
        if self.local:  # the last run out removes the (empty) staging folder
            with contextlib.suppress(OSError):
                path.fs.rmdir(path.parent.path)

    def current_manifest(self) -> dict[str, Any] | None:
        """The published manifest, or ``None`` when there is none (or it is unreadable)."""
        try:
            with self.fs.open((self.destination / MANIFEST).path, "rb") as handle:
                manifest = orjson.loads(handle.read())
        except (FileNotFoundError, orjson.JSONDecodeError):
            return None
        return manifest if isinstance(manifest, dict) else None

    @staticmethod
    def manifest_names(manifest: dict[str, Any] | None) -> set[str]:
        """The files a manifest owns: its export's parts and those of the export it replaced."""
        if not manifest:
            return set()
        return {f["name"] for f in manifest.get("files", ())} | set(manifest.get("replaces", ()))

    def publish(self, parts: list[PartFile], manifest: dict[str, Any]) -> dict[str, Any]:
        """Move staged ``parts`` in under this run's names, commit the manifest, then remove the old parts."""
        staged = [p for p in parts if p.records]
        final = [
            PartFile(f"part-{n:05d}-{self.run_id}.{p.name.split('.', 1)[1]}", p.records, p.bytes, p.sha256)
            for n, p in enumerate(staged)
        ]
        new_names = {f.name for f in final}
        lock = PublishLock(
            self.fs,
            (self.destination / LOCK).path,
            self.token,
            stale_after=self.lock_stale_after.total_seconds(),
        )
        with self.writable("publish the export at"), lock.held():
            self.fs.invalidate_cache(self.destination.path)  # another run may have published since
            previous, present = self.current_manifest(), self._names()
            old = {f["name"] for f in (previous or {}).get("files", ())}
            replaced = sorted(((old | set((previous or {}).get("replaces", ()))) & present) - new_names)
            manifest = {
                **manifest,
                "files": [f.as_dict() for f in final],
                "replaces": replaced,
                "provider_version": __version__,
            }
            for part, target in zip(staged, final, strict=True):
                self.fs.mv((self.staging / part.name).path, (self.destination / target.name).path)
            with self.fs.open((self.staging / MANIFEST).path, "wb") as out:
                out.write(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
            self.fs.mv((self.staging / MANIFEST).path, (self.destination / MANIFEST).path)  # the commit
            for name in replaced:
                self._rm(name)
        self._rm_tree(self.staging)
        return manifest


def _run_identity(token: str) -> dict[str, Any]:
    return {"token": token, "host": socket.gethostname(), "pid": os.getpid(), "provider_version": __version__}
