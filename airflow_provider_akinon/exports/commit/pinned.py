"""A part of a published export as its manifest describes it, or an error naming it: checked before it is read.

A reader reads the files of the manifest it opened, even while the export is published again: the parts
a newer export replaces move to ``_akinon/superseded/`` and stay there for ``superseded_retention``
(an hour by default), where :func:`open_part` finds them. Every file is checked against the manifest
(sha256 and size) before it is handed out: a file that does not match is an
:class:`~airflow_provider_akinon.errors.ExportIntegrityError` naming it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from typing import Any, BinaryIO

from airflow_provider_akinon.errors import ExportIntegrityError, PartGone
from airflow_provider_akinon.exports.commit.protocol import SUPERSEDED, version_of
from airflow_provider_akinon.exports.commit.storage import read_manifest

CHUNK = 1024 * 1024


def _locations(folder: Any, name: str) -> list[Any]:
    return [folder / name, folder / SUPERSEDED / name]


def _open(path: Any, scratch: str) -> BinaryIO:
    """The file at ``path`` as a local, seekable handle: itself on a local disk (an open file survives
    being moved), a download into ``scratch`` otherwise (one GET: the object as it was when asked)."""
    if path.protocol in ("", "file", "local"):
        return open(path.path, "rb")
    local = f"{scratch}/{path.name}"
    path.fs.get_file(path.path, local)
    return open(local, "rb")


def _check(handle: BinaryIO, entry: dict[str, Any], where: str) -> None:
    if not isinstance(entry.get("sha256"), str) or not isinstance(entry.get("bytes"), int):
        raise ExportIntegrityError(
            f"The manifest lists {where} without its sha256 and size: it is not a manifest this provider wrote "
            "(each of its files is checked as it is read). Run the export again to replace it."
        )
    digest, size = hashlib.sha256(), 0
    for chunk in iter(lambda: handle.read(CHUNK), b""):
        digest.update(chunk)
        size += len(chunk)
    if digest.hexdigest() != entry["sha256"] or size != entry["bytes"]:
        raise ExportIntegrityError(
            f"{where} does not match its manifest: {size} bytes with sha256 {digest.hexdigest()[:16]}..., where "
            f"the export wrote {entry['bytes']} bytes with sha256 {entry['sha256'][:16]}... It was changed after "
            "it was published; nothing of it was read. Run the export again to replace it."
        )
    handle.seek(0)


@contextlib.contextmanager
def open_part(folder: Any, entry: dict[str, Any]) -> Iterator[BinaryIO]:
    """A part of a manifest, checked against ``entry`` before it is handed out (rewound, local, seekable)."""
    with tempfile.TemporaryDirectory(prefix="akinon-part-") as scratch:
        for path in _locations(folder, entry["name"]):
            try:
                handle = _open(path, scratch)
            except FileNotFoundError:
                continue
            with handle:
                _check(handle, entry, str(path))
                yield handle
            return
    raise PartGone(entry["name"])


def gone_error(
    folder: Any, name: str, manifest: dict[str, Any], newer: dict[str, Any]
) -> ExportIntegrityError:
    """The error for a part ``manifest`` lists that is gone (``newer``: the manifest read since)."""
    return ExportIntegrityError(
        f"{folder / name} is listed by the manifest being read (version {version_of(manifest)}) but is gone: "
        f"the export was published again (now version {version_of(newer)}) and the files it replaced were "
        "kept shorter than this read took ([akinon] superseded_retention). Read it again."
    )


def pinned_copies(folder: Any, scratch: str) -> tuple[dict[str, Any], list[str]]:
    """The export's manifest, and each of its parts copied into the local folder ``scratch``, checked."""
    manifest = read_manifest(folder)
    while True:
        copies = []
        try:
            for entry in manifest["files"]:
                copies.append(os.path.join(scratch, entry["name"]))
                with open_part(folder, entry) as handle, open(copies[-1], "wb") as out:
                    for chunk in iter(lambda h=handle: h.read(CHUNK), b""):  # type: ignore[misc]
                        out.write(chunk)
            return manifest, copies
        except PartGone as gone:
            newer = read_manifest(folder)
            if version_of(newer) == version_of(manifest):
                raise gone_error(folder, str(gone), manifest, newer) from None
            manifest = newer
