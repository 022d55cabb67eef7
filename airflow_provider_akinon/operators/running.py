"""Running an operator's exports: one, or one per partition of its window, planned on one probe.

Each export is planned and run on its own (its destination checked, staged, walked, published), so a
partition that fails leaves those before it published and itself as it was. Where a kept probe was used
and a walk finds the list no longer answers as it says, the probe is asked again and that export planned
anew, once.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow_provider_akinon.errors import AkinonPageError, ExportConsistencyError
from airflow_provider_akinon.exports.export import Export
from airflow_provider_akinon.exports.plan import Ask
from airflow_provider_akinon.exports.planner import plan_export
from airflow_provider_akinon.hooks.akinon import AkinonHook
from airflow_provider_akinon.resources import Resource

log = logging.getLogger(__name__)


class Exports:
    """
    The exports of one operator run.

    :param file_format: the format every export lands in (a table format's history, or a format).
    :param max_file_bytes: start a new part file past this many (uncompressed) bytes.
    :param schema_contract: what new fields and changed types do (typed formats); each partition of a run
        is held to the schema of the one before it.
    """

    def __init__(
        self,
        hook: AkinonHook,
        resource: Resource,
        *,
        file_format: Any,
        max_file_bytes: int,
        schema_contract: Any = None,
    ) -> None:
        self.hook, self.resource = hook, resource
        self.file_format, self.max_file_bytes = file_format, max_file_bytes
        self.schema_contract = schema_contract
        self.baseline: Any = None  # the schema of this run's last export: its next partition is held to it

    def run(self, ask: Ask, destination: Any) -> tuple[Export, dict[str, Any]]:
        """Plan and run the export of ``ask`` into ``destination``: the export and its manifest."""
        try:
            return self._once(ask, destination)
        except (AkinonPageError, ExportConsistencyError) as err:
            if not self.hook.forget_kept_probes():
                raise
            log.warning("The list no longer answers as its kept probe says (%s): asking the probe again", err)
            return self._once(ask, destination)

    def _once(self, ask: Ask, destination: Any) -> tuple[Export, dict[str, Any]]:
        export = Export(
            self.hook,
            self.resource,
            destination,
            file_format=self.file_format,
            max_file_bytes=self.max_file_bytes,
            label=f"{self.resource.name} {ask.source_label()}",
            schema_contract=self.schema_contract,
            baseline=self.baseline,
        )
        with export:  # the destination checked and this run's staging begun, before any request
            log.info("Exporting %s into %s", export.progress.label, export.target.uri)
            plan = plan_export(self.hook, ask)
            meta = {
                "resource": self.resource.name,
                "endpoint": self.resource.endpoint,
                "host": self.hook.host,
            }
            manifest = export.run(plan, {**meta, "filters": dict(ask.filters)})
            if export.shaper is not None and manifest["records"]:  # an empty day sets no baseline
                self.baseline = export.shaper.schema
            return export, manifest
