"""Export one window of Akinon data to object storage: exactly once, atomically, with a manifest."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_akinon.arguments import check_filters, one_of, positive_int
from airflow_provider_akinon.compat import BaseOperator
from airflow_provider_akinon.errors import AkinonConfigError
from airflow_provider_akinon.exports.children import fetch_children
from airflow_provider_akinon.exports.export import Export
from airflow_provider_akinon.exports.job import Tally
from airflow_provider_akinon.exports.plan import (
    PAGINGS,
    choose_paging,
    rule_for,
    wait_until_closed,
    walk_ids,
    walk_window,
)
from airflow_provider_akinon.exports.reader import iter_export_records
from airflow_provider_akinon.exports.target import destination_path
from airflow_provider_akinon.exports.writers import DEFAULT_MAX_FILE_BYTES, check_format
from airflow_provider_akinon.hooks.akinon import AkinonApiError, AkinonHook
from airflow_provider_akinon.hooks.records import Records
from airflow_provider_akinon.resources import (
    DISCOUNT_ITEMS,
    OMS_ORDER_ITEMS,
    ORDER_ITEMS,
    ORDERS,
    Resource,
    check_date_field,
)
from airflow_provider_akinon.windows import (
    Window,
    WindowError,
    parse_step,
    resolve_id_range,
    resolve_window,
)

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

#: What the date window of a children export cuts (see ``window_on``).
WINDOW_ON = ("orders", "records", "auto")


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
    :param file_format: ``jsonl`` (default), ``jsonl.gz``, ``parquet``, or ``delta``: merge into the Delta
        Lake table at ``destination`` (upsert by key, the newest ``modified_date`` wins). (templated)
    :param page_size: records per request; default: the connection's ``page_size``.
    :param max_concurrency: requests in flight at once (bounded memory: page_size x concurrency).
    :param window_step: walk a long window in sub-windows of this size (timedelta, seconds or ``P1D``).
    :param paging: ``auto`` (default: probe the endpoint, then keyset walks where it honours ``sort=id``
        and the id lookups, page numbers where not), ``keyset`` or ``page`` to force one.
    :param max_file_bytes: start a new part file past this many (uncompressed) bytes.
    :param id_range: export the orders ``after_id < id <= to_id`` instead of a date window:
        ``{"after_id": a, "to_id": b}`` (a new-orders event), ``(a, b)`` or ``"a,b"``. (templated)
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
        "id_range",
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
        paging: str = "auto",
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        id_range: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.id_range = id_range
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
        one_of("paging", self.paging, PAGINGS)
        positive_int("max_concurrency", self.max_concurrency)
        positive_int("max_file_bytes", self.max_file_bytes)
        if self.page_size is not None:
            positive_int("page_size", self.page_size)
        check_filters(self.filters, date_field=self.date_field, parent=self.resource.parent_param)

    def _window(self, context: Context) -> Window | None:
        """The date window; with an ``id_range`` only when given explicitly (start and end)."""
        if resolve_id_range(self.id_range) is not None:
            context = None  # the ids define the export, not the run's data interval
        if self._defined_without_window():
            try:
                return resolve_window(self.start, self.end, context)
            except WindowError:
                return None  # the ids define the export; a window is recorded only when known
        return resolve_window(self.start, self.end, context)

    def _defined_without_window(self) -> bool:
        return resolve_id_range(self.id_range) is not None

    # ------------------------------------------------------------------ execution
    def execute(self, context: Context) -> dict[str, Any]:
        self._validate()
        window, ids = self._window(context), resolve_id_range(self.id_range)
        self._step = parse_step(self.window_step, window) if window else None
        export = Export(
            self.hook,
            self.resource,
            self.destination,
            file_format=self.file_format,
            max_file_bytes=self.max_file_bytes,
            max_concurrency=self.max_concurrency,
            label=f"{self.resource.name} {window or ''}{f' ids {ids[0] + 1}..{ids[1]}' if ids else ''}".strip(),
        )
        self.log.info("Exporting %s into %s", export.progress.label, export.target.uri)
        meta = {
            "resource": self.resource.name,
            "endpoint": self.resource.endpoint,
            "host": self.hook.host,
            "window": window.as_dict() if window else None,
            "date_field": self.date_field if window else None,
            "id_range": {"after_id": ids[0], "to_id": ids[1]} if ids else None,
            "filters": self.filters or {},
            "format": self.file_format,
        }
        manifest = export.run(lambda run: self._walk(run, window), meta)
        summary = {
            "uri": export.target.uri,
            "manifest": f"{export.target.uri}_manifest.json",
            "resource": self.resource.name,
            "records": manifest["records"],
            "files": len(manifest["files"]),
            "window": manifest["window"],
            "id_range": manifest["id_range"],
        }
        if "table_version" in manifest:  # file_format="delta": the table version this export wrote
            summary.update({k: manifest[k] for k in ("table", "table_version", "inserted", "updated")})
            summary["manifest"] = None  # the table's _delta_log is its manifest
        self._annotate_outlets(context, summary)
        self.log.info(
            "Exported %d %s (API count %d) in %d file(s) to %s",
            manifest["records"],
            self.resource.name,
            manifest["count"],
            len(manifest["files"]),
            export.target.uri,
        )
        return summary

    def _walk(self, export: Export, window: Window | None) -> tuple[Tally, dict[str, Any]]:
        """Walk the window (or id range) into the export's writers; return the tally and manifest fields."""
        tally, paging, caps = self._walk_list(export, self.resource, window)
        source = "id_range" if self.id_range else "window"
        return tally, {"source": source, "paging": paging, "probe": caps.as_dict()}

    def _walk_list(self, export: Export, resource: Resource, window: Window | None, open_writer=None):
        """Walk ``resource`` by ``id_range`` if given, else by ``window``."""
        filters, ids = dict(self.filters or {}), resolve_id_range(self.id_range)
        date_field = None if ids else self.date_field
        paging, caps = choose_paging(self.hook, resource, date_field, filters, self.paging)
        job = export.job(
            resource=resource,
            page_size=caps.page_size,
            filters=filters,
            date_field=date_field,
            open_writer=open_writer,
            caps=caps,
            probed=self.paging == "auto",
            rule=rule_for(date_field, paging, caps),
        )
        if ids:
            return walk_ids(job, *ids, paging), paging, caps
        wait_until_closed(window, date_field)
        return walk_window(job, window, self._step, paging), paging, caps

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
    Export per-order children: fetched concurrently (bounded), in order of the orders; many orders per
    request where the endpoint honours ``order__in`` (probed), else one request per order.

    The orders are, in this order of precedence: ``order_ids``; the orders of ``orders_from`` (the
    summary XCom of an upstream :class:`FetchOrdersOperator`, or the URI of its export), so children
    match the exported orders exactly; or the orders of the ``id_range``, or of the window.

    :param order_ids: order ids to export the children of. (templated)
    :param orders_from: ``orders_task.output`` or an orders export URI. (templated)
    :param window_on: what the date window cuts: ``orders`` (default: the children of the window's
        orders, or of ``orders_from``), ``records`` (the children's own ``date_field``: the endpoint must
        list them without an order filter), or ``auto`` (``records`` where the probe finds the endpoint
        filtering on ``date_field``, else ``orders``).
    """

    template_fields: Sequence[str] = (*AkinonExportOperator.template_fields, "order_ids", "orders_from")

    def __init__(
        self, *, order_ids: Any = None, orders_from: Any = None, window_on: str = "orders", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.order_ids = order_ids
        self.orders_from = orders_from
        self.window_on = window_on

    def _validate(self) -> None:
        super()._validate()
        if self.window_on not in WINDOW_ON:
            raise AkinonConfigError(
                f"window_on={self.window_on!r} is not supported; use one of {', '.join(map(repr, WINDOW_ON))}."
            )

    def _defined_without_window(self) -> bool:
        return self.order_ids is not None or self.orders_from is not None or super()._defined_without_window()

    def _walk(self, export: Export, window: Window | None) -> tuple[Tally, dict[str, Any]]:
        if window is not None and self._by_own_dates():
            return super()._walk(export, window)  # a window resource of its own: keyset or page walks
        ids, source = self._order_ids(export, window)
        tally, requests = fetch_children(export.job(), ids)
        return tally, {"source": source, "paging": requests}

    def _by_own_dates(self) -> bool:
        """Whether the window cuts the children's own ``date_field`` (``window_on``, probed for ``auto``)."""
        if self.window_on != "auto":
            return self.window_on == "records"
        try:
            caps = self.hook.probe(
                self.resource.endpoint, date_field=self.date_field, key=self.resource.primary_key
            )
        except AkinonApiError as err:  # Akinon's documented children lists need an order filter
            self.log.info(
                "%s cannot be listed on its own (%s): exporting the orders' children", self.resource.name, err
            )
            return False
        own = bool(caps.count) and caps.date_gte is True and caps.date_lt is True
        self.log.info(
            "%s %s", self.resource.name, f"cut on its own {self.date_field}" if own else "follows the orders"
        )
        return own

    def _order_ids(self, export: Export, window: Window | None) -> tuple[Iterator[int], str]:
        if self.order_ids is not None:
            ids = self.order_ids
            if isinstance(ids, str):
                ids = [part for part in ids.replace("[", "").replace("]", "").split(",") if part.strip()]
            try:
                return iter([int(i) for i in ids]), "order_ids"
            except (TypeError, ValueError):
                raise AkinonConfigError(
                    f"order_ids must be a list of integers, got {self.order_ids!r}."
                ) from None
        if self.orders_from is not None:
            uri = self.orders_from.get("uri") if isinstance(self.orders_from, dict) else self.orders_from
            if isinstance(self.orders_from, dict) and "table_version" in self.orders_from:
                raise AkinonConfigError(
                    f"orders_from={uri!r} is a Delta table (file_format='delta'), which holds the current state "
                    "of every order, not this run's orders. Export the orders as jsonl or parquet for "
                    "orders_from, and merge that export into the table (exports.delta.merge_export)."
                )
            if not uri:
                raise AkinonConfigError(
                    f"orders_from={self.orders_from!r} names no export; pass orders_task.output or an export URI."
                )
            return iter_export_records(uri, column=ORDERS.primary_key), f"orders_from {uri}"
        streams: dict[int, _OrderIds] = {}
        self._walk_list(export, ORDERS, window, lambda n: streams.setdefault(n, _OrderIds()))
        source = "id_range" if self.id_range else "window"
        return (i for n in sorted(streams) for i in streams[n].ids), source


class _OrderIds:
    """A record writer that keeps only the ids of the orders a window walk finds."""

    def __init__(self) -> None:
        self.ids: list[int] = []

    def write(self, records: Records) -> None:
        self.ids.extend(records.field(ORDERS.primary_key, records.keys))

    def discard(self) -> None:
        self.ids.clear()


class FetchOrderItemsOperator(_OrderChildrenExportOperator):
    """Export the detailed order items (``order_item/detailed_integration/?order=``) of a window's orders."""

    resource = ORDER_ITEMS


class FetchDiscountItemsOperator(_OrderChildrenExportOperator):
    """Export the discount items (``discount_items/detailed_integration/?order=``) of a window's orders."""

    resource = DISCOUNT_ITEMS
