"""Export one window of Akinon data to object storage: exactly once, atomically, with a manifest."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_akinon._compat import AirflowException, BaseOperator
from airflow_provider_akinon.exports.reader import iter_export_records
from airflow_provider_akinon.exports.target import ExportTarget, destination_path
from airflow_provider_akinon.exports.walk import PageWalk, Progress, WindowWalk, fetch_children
from airflow_provider_akinon.exports.writers import DEFAULT_MAX_FILE_BYTES, PartFile, PartWriter, check_format
from airflow_provider_akinon.hooks.akinon import AkinonHook
from airflow_provider_akinon.resources import (
    DISCOUNT_ITEMS,
    OMS_ORDER_ITEMS,
    ORDER_ITEMS,
    ORDERS,
    Resource,
    check_date_field,
)
from airflow_provider_akinon.windows import Window, WindowError, parse_step, resolve_window

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

PAGINGS = ("keyset", "page")


class AkinonExportOperator(BaseOperator):
    """
    Export the records of one window of an Akinon list to ``destination``.

    Everything of one run lives under ``destination``: ``part-NNNNN.<format>`` files and
    ``_manifest.json``, written last. A rerun of the same window replaces exactly that export; a failed
    run leaves the previous export untouched. Returns a small summary (URI, records, files) as XCom.

    :param destination: folder URI or ``ObjectStoragePath`` (``file://``, ``s3://conn_id@bucket/prefix``,
        any fsspec scheme Airflow's object storage supports); a plain path means ``file://``. (templated)
    :param akinon_conn_id: the ``akinon`` connection. (templated)
    :param start: window start, inclusive; ISO string or datetime. Default: the run's data interval
        start. (templated)
    :param end: window end, exclusive. Default: the run's data interval end. (templated)
    :param date_field: ``created_date``, ``modified_date`` or ``date_placed``. (templated)
    :param filters: extra query parameters, e.g. ``{"status": "400"}``. (templated)
    :param file_format: ``jsonl`` (default), ``jsonl.gz`` or ``parquet``. (templated)
    :param page_size: records per request; default: the connection's ``page_size``.
    :param max_concurrency: requests in flight at once (bounded memory: page_size x concurrency).
    :param window_step: walk a long window in sub-windows of this size (timedelta, seconds or ``P1D``).
    :param paging: ``keyset`` (``sort=id`` + ``id__gt`` cursors, concurrent shards; default) or ``page``
        (page numbers, for endpoints without id lookups).
    :param max_file_bytes: start a new part file past this many (uncompressed) bytes.
    """

    resource: ClassVar[Resource] = ORDERS
    template_fields: Sequence[str] = (
        "akinon_conn_id",
        "destination",
        "start",
        "end",
        "date_field",
        "filters",
        "file_format",
    )
    template_fields_renderers = {"filters": "json"}
    ui_color = "#f7e9ff"

    def __init__(
        self,
        *,
        destination: Any,
        akinon_conn_id: str = AkinonHook.default_conn_name,
        start: Any = None,
        end: Any = None,
        date_field: str = "created_date",
        filters: dict[str, Any] | None = None,
        file_format: str = "jsonl",
        page_size: int | None = None,
        max_concurrency: int = 4,
        window_step: Any = None,
        paging: str = "keyset",
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.destination = destination
        self.akinon_conn_id = akinon_conn_id
        self.start = start
        self.end = end
        self.date_field = date_field
        self.filters = filters
        self.file_format = file_format
        self.page_size = page_size
        self.max_concurrency = max_concurrency
        self.window_step = window_step
        self.paging = paging
        self.max_file_bytes = max_file_bytes

    @cached_property
    def hook(self) -> AkinonHook:
        return AkinonHook(akinon_conn_id=self.akinon_conn_id, page_size=self.page_size)

    # ------------------------------------------------------------------ validation
    def _validate(self) -> None:
        """Refuse bad arguments before any request or write."""
        check_format(self.file_format)
        check_date_field(self.date_field)
        if self.paging not in PAGINGS:
            raise AirflowException(f"paging={self.paging!r} is not supported; use 'keyset' or 'page'.")
        if not isinstance(self.max_concurrency, int) or self.max_concurrency < 1:
            raise AirflowException(f"max_concurrency must be an integer >= 1, got {self.max_concurrency!r}.")
        if self.filters is not None and not isinstance(self.filters, dict):
            raise AirflowException(f"filters must be a dict of query parameters, got {self.filters!r}.")
        if self.max_file_bytes < 1:
            raise AirflowException(f"max_file_bytes must be >= 1, got {self.max_file_bytes!r}.")

    def _window(self, context: Context) -> Window:
        return resolve_window(self.start, self.end, context)

    # ------------------------------------------------------------------ execution
    def execute(self, context: Context) -> dict[str, Any]:
        self._validate()
        window = self._window(context)
        target = ExportTarget(destination_path(self.destination))
        page_size = self.hook.config.page_size
        progress = Progress(self.hook, f"{self.resource.name} {window or ''}".strip())
        self.log.info("Exporting %s %s into %s", self.resource.name, window or "", target.uri)
        target.prepare()
        writers: list[PartWriter] = []
        try:

            def make_writer(index: int) -> PartWriter:
                writer = PartWriter(
                    target.staging, f"s{index:05d}", self.file_format, self.resource, self.max_file_bytes
                )
                writers.append(writer)
                return writer

            api_count, source = self._fetch(window, page_size, progress, make_writer)
            writers.sort(key=lambda w: w.prefix)
            parts: list[PartFile] = [part for writer in writers for part in writer.close()]
            records = sum(p.records for p in parts)
            if records != api_count:
                raise AirflowException(
                    f"{self.resource.name}: wrote {records} records but the API counts {api_count}; "
                    "nothing was published."
                )
            manifest = target.publish(
                parts,
                {
                    "resource": self.resource.name,
                    "endpoint": self.resource.endpoint,
                    "host": self.hook.host,
                    "window": window.as_dict() if window else None,
                    "date_field": self.date_field if window else None,
                    "filters": self.filters or {},
                    "source": source,
                    "format": self.file_format,
                    "records": records,
                    "count": api_count,
                    "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                },
            )
        except BaseException:
            for writer in writers:
                writer.abort()
            target.abandon()
            raise
        progress.log_line("done")
        summary = {
            "uri": target.uri,
            "manifest": f"{target.uri}_manifest.json",
            "resource": self.resource.name,
            "records": records,
            "files": len(manifest["files"]),
            "window": manifest["window"],
        }
        self._annotate_outlets(context, summary)
        self.log.info(
            "Exported %d %s (API count %d) in %d file(s) to %s",
            records,
            self.resource.name,
            api_count,
            len(manifest["files"]),
            target.uri,
        )
        return summary

    def _annotate_outlets(self, context: Context, summary: dict[str, Any]) -> None:
        """Attach the summary to the asset events of this task's outlets (consumers see the URI)."""
        events = context.get("outlet_events") if hasattr(context, "get") else None
        if events is None:
            return
        for outlet in self.outlets or ():
            try:
                events[outlet].extra = summary
            except (KeyError, TypeError, AttributeError):  # not an asset, or an older Airflow
                continue

    def _fetch(
        self, window: Window | None, page_size: int, progress: Progress, make_writer
    ) -> tuple[int, str]:
        """Walk the window into writers; return the API's count and a description of the source."""
        return self._walk_window(self.resource, window, page_size, progress, make_writer), "window"

    def _walk_window(
        self, resource: Resource, window: Window, page_size: int, progress: Progress, make_sink
    ) -> int:
        walk_cls = WindowWalk if self.paging == "keyset" else PageWalk
        total = 0
        shard_offset = 0
        for sub in window.split(parse_step(self.window_step)):
            walk = walk_cls(
                self.hook,
                resource,
                sub,
                date_field=self.date_field,
                filters=dict(self.filters or {}),
                page_size=page_size,
                max_concurrency=self.max_concurrency,
                make_sink=make_sink,
                progress=progress,
                first_shard=shard_offset,
            )
            shards = walk.run()
            shard_offset += max(len(shards), 1)
            total += walk.api_count
        return total

    # ------------------------------------------------------------------ lineage
    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: input ``akinon://host/endpoint``, output the destination folder."""
        from urllib.parse import urlsplit

        from airflow.providers.common.compat.openlineage.facet import Dataset
        from airflow.providers.openlineage.extractors import OperatorLineage

        host = urlsplit(self.hook.host).netloc
        dest = destination_path(self.destination)
        namespace = f"{dest.protocol}://{getattr(dest, 'bucket', '') or ''}".rstrip("/") or "file"
        return OperatorLineage(
            inputs=[Dataset(namespace=f"akinon://{host}", name=self.resource.endpoint)],
            outputs=[Dataset(namespace=namespace, name=str(dest.path))],
        )


class FetchOrdersOperator(AkinonExportOperator):
    """Export the orders of one window (``orders/``). See :class:`AkinonExportOperator`."""

    resource = ORDERS


class FetchOmsOrderItemsOperator(AkinonExportOperator):
    """Export OMS order items of one window (``/api/v1/oms/order_items/``) through an OMS connection."""

    resource = OMS_ORDER_ITEMS


class _OrderChildrenExportOperator(AkinonExportOperator):
    """
    Export per-order children: each order's list is fetched concurrently (bounded), in order.

    The orders are, in this order of precedence: ``order_ids``; the orders of ``orders_from`` (the
    summary XCom of an upstream :class:`FetchOrdersOperator`, or the URI of its export), so children
    match the exported orders exactly; or the orders of the window.

    :param order_ids: order ids to export the children of. (templated)
    :param orders_from: ``orders_task.output`` or an orders export URI. (templated)
    """

    template_fields: Sequence[str] = (*AkinonExportOperator.template_fields, "order_ids", "orders_from")

    def __init__(self, *, order_ids: Any = None, orders_from: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.order_ids = order_ids
        self.orders_from = orders_from

    def _window(self, context: Context) -> Window | None:
        if self.order_ids is not None or self.orders_from is not None:
            try:
                return resolve_window(self.start, self.end, context)
            except WindowError:
                return None  # the orders define the export; a window is only recorded when known
        return resolve_window(self.start, self.end, context)

    def _fetch(
        self, window: Window | None, page_size: int, progress: Progress, make_writer
    ) -> tuple[int, str]:
        ids, source = self._order_ids(window, page_size, progress)
        writer = make_writer(0)
        count = 0
        for records in fetch_children(
            self.hook,
            self.resource,
            ids,
            page_size=page_size,
            max_concurrency=self.max_concurrency,
            progress=progress,
        ):
            writer.write(records)
            count += len(records)
        return count, source

    def _order_ids(
        self, window: Window | None, page_size: int, progress: Progress
    ) -> tuple[Iterator[int], str]:
        if self.order_ids is not None:
            ids = self.order_ids
            if isinstance(ids, str):
                ids = [part for part in ids.replace("[", "").replace("]", "").split(",") if part.strip()]
            try:
                return iter([int(i) for i in ids]), "order_ids"
            except (TypeError, ValueError):
                raise AirflowException(
                    f"order_ids must be a list of integers, got {self.order_ids!r}."
                ) from None
        if self.orders_from is not None:
            uri = self.orders_from.get("uri") if isinstance(self.orders_from, dict) else self.orders_from
            if not uri:
                raise AirflowException(
                    f"orders_from={self.orders_from!r} names no export; pass orders_task.output or an export URI."
                )
            return iter_export_records(uri, column=ORDERS.primary_key), f"orders_from {uri}"
        collected: dict[int, list[int]] = {}

        class _Ids:
            def __init__(self, index: int) -> None:
                self.ids = collected.setdefault(index, [])

            def write(self, records: list[dict]) -> None:
                self.ids.extend(int(r[ORDERS.primary_key]) for r in records)

            def discard(self) -> None:
                self.ids.clear()

        self._walk_window(ORDERS, window, page_size, progress, _Ids)
        return (i for index in sorted(collected) for i in collected[index]), "window"


class FetchOrderItemsOperator(_OrderChildrenExportOperator):
    """Export the detailed order items (``order_item/detailed_integration/?order=``) of a window's orders."""

    resource = ORDER_ITEMS


class FetchDiscountItemsOperator(_OrderChildrenExportOperator):
    """Export the discount items (``discount_items/detailed_integration/?order=``) of a window's orders."""

    resource = DISCOUNT_ITEMS
