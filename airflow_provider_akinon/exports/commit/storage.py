"""Storage as the exports see it: a destination as a path, storage errors with their fix, the manifest."""

from __future__ import annotations

import errno
import os
from typing import Any

import orjson

from airflow_provider_akinon.compat import ObjectStoragePath
from airflow_provider_akinon.errors import AkinonConfigError, DestinationError

MANIFEST = "_manifest.json"
DELTA_LOG = "_delta_log"


def destination_path(destination: Any) -> ObjectStoragePath:
    """An ``ObjectStoragePath`` for a URI, a local path (``file://`` is implied) or a path object."""
    if isinstance(destination, ObjectStoragePath):
        return destination
    if not isinstance(destination, str | os.PathLike) or not str(destination).strip():
        raise AkinonConfigError(
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
        raise AkinonConfigError(
            f"destination {text!r} cannot be opened as object storage ({type(err).__name__}: {err}); "
            "check the scheme and install its provider (s3:// needs apache-airflow-providers-amazon[s3fs])."
        ) from None
    if path.protocol in ("", "file", "local") and text.rstrip("/") in ("file:", "file://"):
        raise AkinonConfigError("destination must name a folder, not the file system root.")
    return path


def storage_problem(err: BaseException) -> str | None:
    """The cause and the fix of a storage error, or ``None`` when ``err`` is not one."""
    name = type(err).__name__
    if name in ("NoCredentialsError", "PartialCredentialsError", "NoAuthTokenError"):
        return (
            "no credentials for this storage. Name a connection that has them in the URI "
            "(s3://<aws_conn_id>@bucket/prefix/) or give the worker a role"
        )
    if not isinstance(err, OSError):
        return None
    if err.errno == errno.ENOSPC:
        return "no space left on the device. Free space there, or choose another destination"
    if isinstance(err, PermissionError) or err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (
            "permission denied. Give this worker write access to it (file permissions, or the bucket "
            "policy of the connection's credentials), or choose another destination"
        )
    if isinstance(err, NotADirectoryError | FileExistsError | IsADirectoryError):
        return "a file stands where a folder should be. Choose another destination"
    cause = getattr(err, "strerror", None) or str(err) or name
    return f"{name}: {cause}. Check the destination and this worker's access to it"


def read_manifest(folder: Any) -> dict[str, Any]:
    """Read the manifest of a published export; refuse a folder without one (incomplete or missing)."""
    path = destination_path(folder)
    manifest = path / MANIFEST
    if (path / DELTA_LOG).exists():
        raise DestinationError(
            f"{str(path).rstrip('/')}/ is a Delta table (file_format='delta'), which holds the current state "
            "of every record, not one export's records. Export as jsonl or parquet where one export is "
            "wanted (orders_from=), and merge that export into the table (exports.output.delta.merge_export)."
        )
    if not manifest.exists():
        raise DestinationError(
            f"{str(path).rstrip('/')}/ has no {MANIFEST}: the export is missing or incomplete; rerun it first."
        )
    # one GET: the manifest is replaced in place, and a ranged read could straddle two of them
    return orjson.loads(manifest.fs.cat_file(manifest.path))
