"""One export, start to end: check the destination, stage, walk the plan into parts, check, finish."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from airflow_provider_akinon.errors import ExportConsistencyError
from airflow_provider_akinon.exports import walks
from airflow_provider_akinon.exports.commit.storage import MANIFEST, destination_path
from airflow_provider_akinon.exports.commit.target import ExportTarget
from airflow_provider_akinon.exports.formats.base import Format
from airflow_provider_akinon.exports.formats.parts import PartFile, PartWriter
from airflow_provider_akinon.exports.plan import Plan
from airflow_provider_akinon.exports.progress import Progress
from airflow_provider_akinon.exports.tables.merging import preflight
from airflow_provider_akinon.exports.walks.context import Tally
from airflow_provider_akinon.hooks.akinon import AkinonHook
from airflow_provider_akinon.resources import Resource
from airflow_provider_akinon.schema.contract import Contract
from airflow_provider_akinon.timestamps import api_time

log = logging.getLogger(__name__)


def wait_until(moment: datetime | None) -> None:
    """Wait until ``moment`` (the plan's ``not_before``: a window on the version field closed)."""
    left = (moment - datetime.now(UTC)).total_seconds() if moment is not None else 0
    if left > 0:
        log.info("The window closes in %.0f s: waiting for it before walking it", left)
        time.sleep(left)


class Export:
    """
    Export one resource into ``destination`` in ``file_format``: nothing lands unless everything
    succeeded and the records written equal the API's counts; a failed run leaves the previous export
    (or table version) as it was. It is the walks' sink: each stream of records is a part writer.
    """

    def __init__(
        self,
        hook: AkinonHook,
        resource: Resource,
        destination: Any,
        *,
        file_format: Format,
        max_file_bytes: int,
        label: str,
        schema_contract: Any = None,
        baseline: Any = None,
    ) -> None:
        self.hook = hook
        self.resource = resource
        self.target = ExportTarget(destination_path(destination))
        self.format = file_format
        self.max_file_bytes = max_file_bytes
        self.progress = Progress(hook.stats, label)
        self.writers: list[PartWriter] = []
        self.shaper = file_format.shaper(
            resource, hook.config.timezone, Contract.of(schema_contract), baseline
        )

    def __enter__(self) -> Export:
        """Before any request: refuse what the format or the destination cannot take, start this run's
        heartbeat and staging folder (the destination is writable), sweep what stopped runs left."""
        self.format.check()
        self.target.check_owner(table=self.format.table)
        if self.format.table:
            preflight(self.format, self.resource, self.target.destination)
        self.target.prepare()
        return self

    def __exit__(self, *exc: object) -> None:
        self.target.close()  # the heartbeat stops, the staging folder goes

    def open_stream(self) -> PartWriter:
        """A new stream of part files in this run's staging folder (streams are ordered as opened)."""
        writer = PartWriter(
            self.target.staging,
            f"s{len(self.writers):05d}",
            self.format,
            self.resource,
            self.max_file_bytes,
            self.hook.config.timezone,
            guard=lambda what, path: self.target.writable(what, path),
            shaper=self.shaper,
        )
        self.writers.append(writer)
        return writer

    def run(self, plan: Plan, meta: dict[str, Any]) -> dict[str, Any]:
        """Walk ``plan`` into staging, check the counts, finish (publish or merge); return the manifest.
        Inside ``with export:`` only."""
        try:
            wait_until(plan.not_before)
            tally, how = walks.run(plan, self.hook, self, self.progress)
            parts: list[PartFile] = [part for writer in self.writers for part in writer.close()]
            discarded = 0 if self.shaper is None else self.shaper.discarded
            self._check(tally, sum(p.records for p in parts) + discarded)
            if self.shaper is not None:  # every part of the export's final schema
                parts = self.shaper.finish(self.target.staging, parts)
            now = datetime.now(UTC)
            manifest = {
                **meta,
                **plan.describe(),
                **how,
                "format": self.format.name,
                "format_module": type(self.format).__module__,
                "records": tally.written,
                "count": None if tally.uncounted else tally.count,
                "skipped_duplicates": tally.skipped,
                "left_window": tally.left,
                "cut_outside_window": tally.cut,
                "end": tally.end(),
                **({"orders_gone": tally.gone} if tally.gone else {}),
                "created_at": api_time(now),
                **(self.shaper.describe() if self.shaper is not None else {}),
            }
            manifest = self.finish(parts, manifest, now)
        except BaseException:
            for writer in self.writers:
                writer.abort()
            raise
        self.progress.log_line("done")
        return manifest

    def finish(self, parts: list[PartFile], manifest: dict[str, Any], now: datetime) -> dict[str, Any]:
        """Land the staged ``parts``: publish them with ``manifest`` by the commit protocol, or (a table format)
        merge them into the table at the destination in one commit (nothing staged merges nothing)."""
        if not self.format.table:
            return self.target.publish([part.as_dict() for part in parts], manifest)
        staged = [self.target.staging / part.name for part in parts if part.records]
        table = self.target.destination
        merged = (
            self.format.merge(self.resource, table, staged, now) if staged else self.format.version(table)
        )
        return {**manifest, **merged, "files": []}

    def summary(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """What a task returns of a finished export besides its URI and counts (small: it is XCom)."""
        published = None if self.format.table else f"{self.target.uri}{MANIFEST}"
        return {"manifest": published, **self.format.summarise(manifest)}

    def _check(self, tally: Tally, in_files: int) -> None:
        name = self.resource.name
        if in_files != tally.written:
            raise ExportConsistencyError(
                f"{name}: the part files hold {in_files} records (with those the schema contract discarded) "
                f"but {tally.written} were written; nothing was published."
            )
        if tally.written + tally.skipped + tally.cut - tally.left != tally.count:
            raise ExportConsistencyError(
                f"{name}: wrote {tally.written} records (and skipped {tally.skipped} already written) but "
                f"the API counts {tally.count}; nothing was published."
            )
