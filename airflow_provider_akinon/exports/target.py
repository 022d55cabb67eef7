"""Where an export lands: a staging folder while it is written, the destination once it is complete.

Layout of a published export::

    {destination}/part-00000.jsonl
    {destination}/part-00001.jsonl
    {destination}/_manifest.json      <- written last: an export without it is not complete

While running, files go to ``{destination}/_staging/{token}/``. Publishing removes the old manifest,
removes old parts the new export does not have, moves the new parts in (a rename on local disks, a
server-side copy on object stores) and moves the manifest in last. A failed run never touches the
published files; a run killed during the short publish step leaves no manifest, and the next run
replaces the folder.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson

from airflow_provider_akinon import __version__
from airflow_provider_akinon._compat import AirflowException, ObjectStoragePath
from airflow_provider_akinon.exports.writers import PartFile

MANIFEST = "_manifest.json"
STAGING = "_staging"


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
    """Staging, publishing and the manifest of one export into ``destination``."""

    def __init__(self, destination: ObjectStoragePath) -> None:
        self.destination = destination
        self.token = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        self.staging = destination / STAGING / self.token

    @property
    def uri(self) -> str:
        return str(self.destination).rstrip("/") + "/"

    def prepare(self) -> None:
        """Create the staging folder, clearing what runs that died before publishing left behind."""
        stale = self.destination / STAGING
        if stale.exists():
            self._rm_tree(stale)
        self.staging.mkdir(parents=True, exist_ok=True)

    def abandon(self) -> None:
        """Remove this run's staging folder (after a failure); the published export is untouched."""
        with contextlib.suppress(Exception):  # cleanup must not hide the original error
            self._rm_tree(self.destination / STAGING)

    def _rm_tree(self, path: ObjectStoragePath) -> None:
        # object stores have no folders: once its last file moved out, the folder is gone already
        path.fs.invalidate_cache(path.path)  # listings cached while files were written are stale
        with contextlib.suppress(FileNotFoundError):
            path.fs.rm(path.path, recursive=True)

    def publish(self, parts: list[PartFile], manifest: dict[str, Any]) -> dict[str, Any]:
        """Move staged ``parts`` (in order) to ``part-NNNNN.*`` names, then write the manifest last."""
        fs = self.destination.fs
        final: list[PartFile] = []
        for number, part in enumerate(p for p in parts if p.records):
            suffix = part.name.split(".", 1)[1]
            final.append(PartFile(f"part-{number:05d}.{suffix}", part.records, part.bytes, part.sha256))
        manifest = {**manifest, "files": [f.as_dict() for f in final], "provider_version": __version__}
        staged_manifest = self.staging / MANIFEST
        with staged_manifest.fs.open(staged_manifest.path, "wb") as out:  # see PartWriter._open
            out.write(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))

        old_manifest = self.destination / MANIFEST
        if old_manifest.exists():
            old_manifest.unlink()
        keep = {f.name for f in final}
        for entry in self.destination.iterdir():
            if entry.name.startswith("part-") and entry.name not in keep:
                entry.unlink()
        staged = [p for p in parts if p.records]
        for part, target in zip(staged, final, strict=True):
            fs.mv((self.staging / part.name).path, (self.destination / target.name).path)
        fs.mv((self.staging / MANIFEST).path, old_manifest.path)
        self._rm_tree(self.destination / STAGING)
        return manifest


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
