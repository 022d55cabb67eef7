"""Export any Akinon list to object storage: exactly once, atomically, with a manifest.

:class:`FetchAkinonListOperator` exports any list: a registered one, or one described by its arguments
(``endpoint``, ``primary_key``, ``parent``). The named operators (:class:`FetchOrdersOperator`, ...) are
declarations of it. Each one validates its arguments, plans (asking the API what it honours), runs the
export and returns a small summary; the plan, the walks and the formats do the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_akinon.compat import PARTITIONED_EVENTS, BaseOperator
from airflow_provider_akinon.exports.commit.storage import destination_path
from airflow_provider_akinon.exports.export import Export
from airflow_provider_akinon.exports.formats.parts import DEFAULT_MAX_FILE_BYTES
from airflow_provider_akinon.exports.registry import DEFAULT_FORMAT, format_named
from airflow_provider_akinon.exports.tables.history import History
from airflow_provider_akinon.hooks.akinon import AkinonHook
from airflow_provider_akinon.operators.ask import build_ask, described_resource, partitioned
from airflow_provider_akinon.operators.links import AkinonExportLink, AkinonManifestLink
from airflow_provider_akinon.operators.running import Exports
from airflow_provider_akinon.resources import (
    DISCOUNT_ITEMS,
    OMS_ORDER_ITEMS,
    ORDER_ITEMS,
    ORDERS,
    Resource,
)
from airflow_provider_akinon.schema.contract import Contract
from airflow_provider_akinon.timestamps import parse_instant
from airflow_provider_akinon.windows import Window, parse_step

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

ARGUMENTS = (
    "date_field", "filters", "paging", "window_on", "max_concurrency", "max_file_bytes", "page_size",
    "order_ids", "orders_from", "id_range", "start", "end", "window_step", "allow_full_scan",
)  # fmt: skip


class FetchAkinonListOperator(BaseOperator):
    """
    Export the records of one window (or id range) of an Akinon list to ``destination``.

    Everything of one run lives under ``destination``: ``part-NNNNN-<run>.<format>`` files and
    ``_manifest.json``, written last. A rerun of the same window replaces exactly that export; a failed
    run leaves the previous export untouched. Returns a small summary (URI, records, files) as XCom.

    :param destination: folder URI or ``ObjectStoragePath`` (``file://``, ``s3://conn_id@bucket/prefix``,
        any fsspec scheme Airflow's object storage supports); a plain path means ``file://``; with
        ``file_format="delta"`` the root of a Delta table. (templated)
    :param endpoint: the list, relative to the connection's ``api_prefix`` or absolute from the host root
        (``cancellation_requests/``, ``/api/v1/oms/packages/``); or ``resource``, a registered name.
    :param primary_key: the field that identifies a record (``id``, or ``pk``).
    :param parent: the registered list these records hang off (``orders``), for ``order_ids`` and
        ``orders_from``; ``parent_param`` names it in queries and records (``order``).
    :param akinon_conn_id: the ``akinon`` connection. (templated)
    :param start: window start, inclusive; ISO string or datetime. Default: the run's data interval
        start. (templated)
    :param end: window end, exclusive. Default: the run's data interval end. (templated)
    :param date_field: the date the window cuts: ``created_date``, ``modified_date`` (a changes feed) or
        ``date_placed``; default: the list's first date (``created_date`` on Akinon's order lists). (templated)
    :param filters: extra query parameters, e.g. ``{"status": "400"}``. (templated)
    :param file_format: ``jsonl`` (default), ``jsonl.gz``, ``parquet``, or ``delta`` / ``iceberg``: merge
        into the Delta Lake or Iceberg table at ``destination`` (upsert by key, the newest
        ``modified_date`` wins). (templated)
    :param partition_by: one export per step of the window (a timedelta, or ``P1D`` for days, ``PT1H`` for
        hours), each into its partition under ``destination`` (``date=YYYY-MM-DD/`` or
        ``hour=YYYY-MM-DDTHH/``) with its own manifest, published on its own: a month per task keeps each
        day's idempotence; the probe is asked once for all. (templated)
    :param partition_events: on Airflow 3.3+, the asset events of ``outlets`` are keyed: one per partition
        (day) of the window, for DAGs scheduled on partitions (``PartitionedAssetTimetable``). Off (default),
        one event without a key: a DAG scheduled the usual way (``schedule=[asset]``) runs on it, which
        keyed events would not trigger. A consumer of both kinds needs two outlets.
    :param history: with ``delta`` or ``iceberg``: keep every version the exports saw (``valid_from``,
        ``valid_to``, ``is_current``) instead of the current state: ``True``, or the table's layout as a
        dict (``validity_columns``, ``open_end``, ``version_on``, ``deletion_rows``: see
        :class:`~airflow_provider_akinon.exports.tables.history_options.HistoryOptions`).
    :param page_size: records per request; default: the connection's, else the largest the API allows.
    :param max_concurrency: requests in flight at once (bounded memory: page size x concurrency).
    :param window_step: walk a long window in sub-windows of this size (a timedelta, or ``P1D``).
    :param paging: ``auto`` (default: probe the endpoint, then keyset walks where it honours a sort on
        the key and the id lookups, its own paging where not), ``keyset`` or ``page`` to force one.
    :param max_file_bytes: start a new part file past this many (uncompressed) bytes.
    :param id_range: the records ``after_id < id <= to_id`` instead of a date window:
        ``{"after_id": a, "to_id": b}`` (a new-orders event), ``(a, b)`` or ``"a,b"``. (templated)
    :param order_ids: children only: the parents to export the children of. (templated)
    :param orders_from: children only: ``orders_task.output`` or an orders export URI. (templated)
    :param window_on: children only: what the date window cuts: ``orders`` (default: the children of the
        window's orders), ``records`` (the children's own ``date_field``: the endpoint must list them
        without an order filter), or ``auto`` (``records`` where the probe finds the endpoint filtering
        on ``date_field``, else ``orders``).
    :param allow_full_scan: where the list ignores the date filter and neither its ids nor an order by
        the date find the window, read the whole list and cut the window on the client (the error without
        it names the cost: requests per window).
    :param schema_contract: ``parquet``: what a field the schema lacks, or a value of another type, does:
        ``evolve`` (default: a new column; a variant column named for the new type), ``freeze`` (the export
        refused, nothing published), ``discard_value`` (NULL, and the record's ``_errors`` says why) or
        ``discard_row``; one mode, or ``{"columns": ..., "data_type": ...}``
        (:mod:`~airflow_provider_akinon.schema.contract`). (templated)
    """

    resource: ClassVar[Resource | None] = None
    template_fields: Sequence[str] = (
        "akinon_conn_id", "destination", "start", "end", "date_field", "filters", "file_format", "id_range",
        "order_ids", "orders_from", "partition_by", "schema_contract",
    )  # fmt: skip
    template_fields_renderers = {"filters": "json"}
    operator_extra_links = (AkinonExportLink(), AkinonManifestLink())
    ui_color = "#f7e9ff"

    def __init__(
        self,
        *,
        destination: Any,
        endpoint: str | None = None,
        primary_key: str = "id",
        parent: str | None = None,
        parent_param: str = "order",
        akinon_conn_id: str = AkinonHook.default_conn_name,
        start: Any = None,
        end: Any = None,
        date_field: str | None = None,
        filters: dict[str, Any] | None = None,
        file_format: str = DEFAULT_FORMAT,
        page_size: int | None = None,
        max_concurrency: int = 4,
        window_step: Any = None,
        paging: str = "auto",
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        id_range: Any = None,
        order_ids: Any = None,
        orders_from: Any = None,
        window_on: str = "orders",
        allow_full_scan: bool = False,
        history: Any = False,
        partition_by: Any = None,
        partition_events: bool = False,
        schema_contract: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.list_resource = self.resource or described_resource(endpoint, primary_key, parent, parent_param)
        self.destination = destination
        self.akinon_conn_id = akinon_conn_id
        self.start, self.end, self.date_field, self.filters = start, end, date_field, filters
        self.file_format, self.page_size, self.max_concurrency = file_format, page_size, max_concurrency
        self.window_step, self.paging, self.max_file_bytes = window_step, paging, max_file_bytes
        self.id_range, self.order_ids, self.orders_from = id_range, order_ids, orders_from
        self.window_on = window_on
        self.allow_full_scan = allow_full_scan
        self.history = history
        self.partition_events, self.partition_by = partition_events, partition_by
        self.schema_contract = schema_contract

    @cached_property
    def hook(self) -> AkinonHook:
        """The hook of ``akinon_conn_id``, with this operator's ``page_size``."""
        return AkinonHook(akinon_conn_id=self.akinon_conn_id, page_size=self.page_size)

    def execute(self, context: Context) -> dict[str, Any]:
        """Plan and run the export (one per partition with ``partition_by``); return its summary as XCom."""
        resource = self.list_resource
        file_format = format_named(self.file_format)
        if self.history:
            file_format = History.of(file_format, self.history)
        ask = build_ask(resource, {name: getattr(self, name) for name in ARGUMENTS}, context)
        step = parse_step(self.partition_by, ask.window)
        exports = Exports(
            self.hook,
            resource,
            file_format=file_format,
            max_file_bytes=self.max_file_bytes,
            schema_contract=Contract.of(self.schema_contract),
        )
        if step is None:
            summary, partitions = self._summary(*exports.run(ask, self.destination))
        else:
            done = [
                self._summary(*exports.run(one, into))
                for one, into in partitioned(ask, step, self.destination)
            ]
            partitions = {key: day for _, parts in done for key, day in parts.items()}
            summary = {
                "uri": str(destination_path(self.destination)),
                "resource": resource.name,
                "records": sum(one["records"] for one, _ in done),
                "window": ask.window.as_dict() if ask.window else None,
                "id_range": None,
                "partitioned": [one["uri"] for one, _ in done],
            }
        self._annotate_outlets(context, {**summary, "partitions": partitions}, list(partitions))
        return summary

    def _summary(self, export: Export, manifest: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """What a task returns of one export (small: it is XCom), and its partitions with their URI."""
        summary = {
            "uri": export.target.uri,
            "resource": self.list_resource.name,
            "records": manifest["records"],
            "window": manifest["window"],
            "id_range": manifest["id_range"],
            **export.summary(manifest),
        }
        counted = "no count given" if manifest["count"] is None else f"API count {manifest['count']}"
        self.log.info(
            "Exported %d %s (%s; end known by %s) to %s",
            manifest["records"],
            self.list_resource.name,
            counted,
            manifest["end"],
            export.target.uri,
        )
        partitions = {
            key: {**part, "uri": export.target.uri} for key, part in _partitions(manifest["window"]).items()
        }
        return summary, partitions

    def _annotate_outlets(self, context: Context, summary: dict[str, Any], partitions: list[str]) -> None:
        """
        Attach the summary to the asset events of this task's outlets (consumers see the URI, and each
        partition's part of the window under ``partitions``); with ``partition_events`` on Airflow 3.3+,
        one event per partition the window covers (its days), unless the run has a partition of its own.
        """
        events = context.get("outlet_events") if hasattr(context, "get") else None
        if events is None:
            return
        if not (self.partition_events and PARTITIONED_EVENTS) or getattr(
            context.get("dag_run"), "partition_key", None
        ):
            partitions = []  # unkeyed events; or a partitioned run, whose own key marks the events
        for outlet in self.outlets or ():
            try:
                accessor = events[outlet]
                accessor.extra = summary
            except (KeyError, TypeError, AttributeError):  # not an asset, or an older Airflow
                continue
            if partitions:
                accessor.add_partitions(partitions)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: input ``akinon://host/endpoint``, output the destination folder."""
        from urllib.parse import urlsplit

        from airflow.providers.common.compat.openlineage.facet import Dataset
        from airflow.providers.openlineage.extractors import OperatorLineage

        host = urlsplit(self.hook.host).netloc
        dest = destination_path(self.destination)
        local = dest.protocol in ("", "file", "local")
        namespace = "file" if local else f"{dest.protocol}://{dest.path.split('/')[0]}"
        name = str(dest.path) if local else dest.path.split("/", 1)[-1]
        return OperatorLineage(
            inputs=[Dataset(namespace=f"akinon://{host}", name=self.list_resource.endpoint)],
            outputs=[Dataset(namespace=namespace, name=name)],
        )


class FetchOrdersOperator(FetchAkinonListOperator):
    """Export the orders of one window (``orders/``). See :class:`FetchAkinonListOperator`."""

    resource = ORDERS


class FetchOrderItemsOperator(FetchAkinonListOperator):
    """Export the detailed order items (``order_item/detailed_integration/?order=``) of a window's orders."""

    resource = ORDER_ITEMS


class FetchDiscountItemsOperator(FetchAkinonListOperator):
    """Export the discount items (``discount_items/detailed_integration/?order=``) of a window's orders."""

    resource = DISCOUNT_ITEMS


class FetchOmsOrderItemsOperator(FetchAkinonListOperator):
    """Export OMS order items of one window (``/api/v1/oms/order_items/``) through an OMS connection."""

    resource = OMS_ORDER_ITEMS


#: The name the export operator had before any list could be exported.
AkinonExportOperator = FetchAkinonListOperator


def _partitions(window: dict[str, str] | None) -> dict[str, dict[str, str]]:
    """The asset partitions of an export's window as the manifest records it (children: their orders'), each
    with its part of the window."""
    if not window:
        return {}
    return Window(parse_instant(window["start"], UTC), parse_instant(window["end"], UTC)).partitions()
