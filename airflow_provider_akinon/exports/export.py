"""One export, start to end: staging, a walk into part files, the count checks, publish with a manifest."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from airflow_provider_akinon.errors import ExportConsistencyError
from airflow_provider_akinon.exports.job import Tally, WalkJob
from airflow_provider_akinon.exports.progress import Progress
from airflow_provider_akinon.exports.settle import STRICT, Rule
from airflow_provider_akinon.exports.target import ExportTarget, destination_path
from airflow_provider_akinon.exports.writers import PartFile, PartWriter
from airflow_provider_akinon.hooks.akinon import AkinonHook
from airflow_provider_akinon.hooks.capabilities import Capabilities
from airflow_provider_akinon.hooks.config import DEFAULT_PAGE_SIZE
from airflow_provider_akinon.resources import Resource
from airflow_provider_akinon.timestamps import api_time

#: ``walk(export)`` walks the API into ``export``'s writers; returns what it found and manifest fields.
Walk = Callable[["Export"], tuple[Tally, dict[str, Any]]]


class Export:
    """
    Export one resource into ``destination``: nothing is published unless everything succeeded and the
    records written equal the API's counts; a failed run leaves the previous export as it was.
    """

    def __init__(
        self,
        hook: AkinonHook,
        resource: Resource,
        destination: Any,
        *,
        file_format: str,
        max_file_bytes: int,
        max_concurrency: int,
        label: str,
    ) -> None:
        self.hook = hook
        self.resource = resource
        self.target = ExportTarget(destination_path(destination))
        self.file_format = file_format
        self.max_file_bytes = max_file_bytes
        self.max_concurrency = max_concurrency
        self.progress = Progress(hook.stats, label)
        self.writers: list[PartWriter] = []

    def open_writer(self, stream: int) -> PartWriter:
        """The writer of one stream of part files in this run's staging folder."""
        writer = PartWriter(
            self.target.staging,
            f"s{stream:05d}",
            self.file_format,
            self.resource,
            self.max_file_bytes,
            self.hook.config.timezone,
            guard=lambda what, path: self.target.writable(what, path),
        )
        self.writers.append(writer)
        return writer

    def job(
        self,
        *,
        page_size: int | None = None,
        filters: dict[str, Any] | None = None,
        date_field: str | None = None,
        resource: Resource | None = None,
        open_writer: Callable[[int], Any] | None = None,
        caps: Capabilities | None = None,
        probed: bool = False,
        rule: Rule = STRICT,
    ) -> WalkJob:
        """A walk of this export: pages of what the probe found the API returns, else the connection's size."""
        size = caps.page_size if caps else (self.hook.config.page_size or DEFAULT_PAGE_SIZE)
        return WalkJob(
            hook=self.hook,
            resource=resource or self.resource,
            open_writer=open_writer or self.open_writer,
            progress=self.progress,
            max_concurrency=self.max_concurrency,
            limit=size,
            page_size=page_size or size,
            filters=dict(filters or {}),
            date_field=date_field,
            caps=caps,
            probed=probed,
            rule=rule,
        )

    def run(self, walk: Walk, meta: dict[str, Any]) -> dict[str, Any]:
        """Prepare staging, ``walk``, check the counts, publish; return the manifest."""
        self.target.prepare(table=self.file_format == "delta")
        try:
            tally, found = walk(self)
            parts: list[PartFile] = [
                part for writer in sorted(self.writers, key=lambda w: w.prefix) for part in writer.close()
            ]
            self._check(tally, sum(p.records for p in parts))
            now = datetime.now(UTC)
            manifest = {
                **meta,
                **found,
                "records": tally.written,
                "count": tally.count,
                "skipped_duplicates": tally.skipped,
                "left_window": tally.left,
                "created_at": api_time(now),
            }
            if self.file_format == "delta":
                from airflow_provider_akinon.exports import delta  # pyarrow and deltalake: here only

                staged = [self.target.staging / part.name for part in parts if part.records]
                table = self.target.destination
                merged = delta.merge_into_table(self.resource, table, staged, now) if staged else None
                # nothing changed in the window: no merge, no new version
                manifest = {**manifest, **(merged or delta.table_version(table)), "files": []}
                self.target.abandon()  # the table's log is the manifest; staging is done with
            else:
                manifest = self.target.publish(parts, manifest)
        except BaseException:
            for writer in self.writers:
                writer.abort()
            self.target.abandon()
            raise
        self.progress.log_line("done")
        return manifest

    def _check(self, tally: Tally, in_files: int) -> None:
        name = self.resource.name
        if in_files != tally.written:
            raise ExportConsistencyError(
                f"{name}: the part files hold {in_files} records but {tally.written} were written; "
                "nothing was published."
            )
        if tally.written + tally.skipped - tally.left != tally.count:
            raise ExportConsistencyError(
                f"{name}: wrote {tally.written} records (and skipped {tally.skipped} already written) but "
                f"the API counts {tally.count}; nothing was published."
            )
