"""Links from an export task to what it wrote: the export's folder and its manifest (from its XCom)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from airflow.providers.common.compat.sdk import BaseOperatorLink, XCom

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import TaskInstanceKey


def browsable(uri: str | None) -> str:
    """An address a browser opens for a storage URI: the S3 console for ``s3://``, else the URI itself."""
    if not uri:
        return ""
    parts = urlsplit(uri)
    if parts.scheme in ("s3", "s3a"):
        bucket = parts.netloc.rpartition("@")[2]  # s3://<conn_id>@bucket/...: the bucket alone
        prefix = parts.path.lstrip("/")
        return f"https://s3.console.aws.amazon.com/s3/buckets/{bucket}?prefix={quote(prefix)}"
    return uri


class _SummaryLink(BaseOperatorLink):
    """A link read from the export's summary, the task's XCom."""

    field = ""

    def get_link(self, operator: Any, *, ti_key: TaskInstanceKey) -> str:
        summary = XCom.get_value(ti_key=ti_key, key="return_value")
        return browsable(summary.get(self.field)) if isinstance(summary, dict) else ""


class AkinonExportLink(_SummaryLink):
    """The folder (or Delta table) the export wrote."""

    name = "Akinon export"
    field = "uri"


class AkinonManifestLink(_SummaryLink):
    """The export's ``_manifest.json`` (none for a Delta table, whose log is its manifest)."""

    name = "Akinon manifest"
    field = "manifest"
