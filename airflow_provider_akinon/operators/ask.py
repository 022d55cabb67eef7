"""From an export operator's arguments to an :class:`~airflow_provider_akinon.exports.plan.Ask`, checked.

Every argument is read and checked here, before any request or write: the window (or the id range, the
parent ids, the upstream export) that says which records, the filters, the paging, the sizes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, timedelta
from typing import Any

from airflow_provider_akinon.arguments import check_filters, one_of, positive_int
from airflow_provider_akinon.errors import AkinonConfigError, WindowError
from airflow_provider_akinon.exports.commit.storage import destination_path
from airflow_provider_akinon.exports.plan import Ask
from airflow_provider_akinon.exports.planner import PAGINGS, WINDOW_ON
from airflow_provider_akinon.exports.sources import (
    IdRange,
    ParentIds,
    Source,
    Upstream,
    WindowSource,
)
from airflow_provider_akinon.resources import REGISTRY, Resource
from airflow_provider_akinon.timestamps import parse_instant
from airflow_provider_akinon.windows import Window, parse_step, resolve_id_range, resolve_window


def build_ask(resource: Resource, arguments: Mapping[str, Any], context: Mapping[str, Any] | None) -> Ask:
    """The :class:`Ask` of an operator's (rendered) ``arguments`` in a run's ``context``."""
    date_field = resource.check_date_field(arguments["date_field"] or resource.date_fields[0])
    one_of("paging", arguments["paging"], PAGINGS)
    one_of("window_on", arguments["window_on"], WINDOW_ON)
    positive_int("max_concurrency", arguments["max_concurrency"])
    positive_int("max_file_bytes", arguments["max_file_bytes"])
    if arguments["page_size"] is not None:
        positive_int("page_size", arguments["page_size"])
    filters = check_filters(arguments["filters"], date_field=date_field, parent=resource.parent_param)
    source, window = _source(resource, arguments, context)
    return Ask(
        resource=resource,
        source=source,
        filters=filters,
        paging=arguments["paging"],
        window_on=arguments["window_on"],
        max_concurrency=arguments["max_concurrency"],
        window=window,
        allow_full_scan=bool(arguments["allow_full_scan"]),
    )


def _source(
    resource: Resource, arguments: Mapping[str, Any], context: Mapping[str, Any] | None
) -> tuple[Source, Window | None]:
    """Which records: parent ids, an upstream export, an id range, else the window (in that order)."""
    order_ids, orders_from, ids = arguments["order_ids"], arguments["orders_from"], arguments["id_range"]
    if (order_ids is not None or orders_from is not None) and not resource.parent:
        raise AkinonConfigError(
            f"order_ids and orders_from select the children of orders; {resource.name} has no parent list. "
            "Export it by window or id_range."
        )
    id_range = resolve_id_range(ids)
    if order_ids is not None or orders_from is not None or id_range is not None:
        window = _explicit_window(arguments)  # recorded when given; the ids define the export
        if order_ids is not None:
            return ParentIds(_ids(order_ids)), window
        if orders_from is not None:  # the children of an export's orders: their window, when it says
            return Upstream(_upstream(orders_from)), window or _upstream_window(orders_from)
        assert id_range is not None
        return IdRange(*id_range), window
    window = resolve_window(arguments["start"], arguments["end"], context)
    step = parse_step(arguments["window_step"], window)
    return WindowSource(window, arguments["date_field"] or resource.date_fields[0], step), window


def _explicit_window(arguments: Mapping[str, Any]) -> Window | None:
    try:
        return resolve_window(arguments["start"], arguments["end"], None)
    except WindowError:
        return None


def _upstream_window(value: Any) -> Window | None:
    """The window of an upstream export, from its summary (``orders_task.output``); ``None`` from a URI."""
    window = value.get("window") if isinstance(value, dict) else None
    if not isinstance(window, dict):
        return None
    try:
        return Window(parse_instant(window["start"], UTC), parse_instant(window["end"], UTC))
    except (KeyError, TypeError, ValueError):
        return None


def _ids(value: Any) -> tuple[int, ...]:
    """``order_ids``: a list of integers, or its text (``"1,2,3"``, ``"[1, 2]"``)."""
    if isinstance(value, str):
        value = [part for part in value.replace("[", "").replace("]", "").split(",") if part.strip()]
    try:
        return tuple(int(i) for i in value)
    except (TypeError, ValueError):
        raise AkinonConfigError(f"order_ids must be a list of integers, got {value!r}.") from None


def _upstream(value: Any) -> str:
    """``orders_from``: an upstream export's summary (its XCom) or URI."""
    uri = value.get("uri") if isinstance(value, dict) else value
    if not uri or not isinstance(uri, str):
        raise AkinonConfigError(
            f"orders_from={value!r} names no export; pass orders_task.output or an export URI."
        )
    return uri


def partitioned(ask: Ask, step: timedelta, destination: Any) -> list[tuple[Ask, Any]]:
    """
    One ask per partition of a window, and its folder under ``destination``: ``date=YYYY-MM-DD/`` for steps
    of whole days, else ``hour=YYYY-MM-DDTHH/`` (``...THHMM`` below an hour), named by its start in UTC.
    """
    source = ask.source
    if not isinstance(source, WindowSource):
        raise AkinonConfigError(
            "partition_by cuts a date window into partitions; an id range, order_ids or orders_from export "
            "has no window to cut: leave partition_by unset."
        )
    daily = step % timedelta(days=1) == timedelta(0)
    pattern = (
        "date=%Y-%m-%d"
        if daily
        else "hour=%Y-%m-%dT%H" + ("" if step % timedelta(hours=1) == timedelta(0) else "%M")
    )
    root = destination_path(destination)
    return [
        (
            replace(ask, source=replace(source, window=sub), window=sub),
            root / sub.start.astimezone(UTC).strftime(pattern),
        )
        for sub in source.window.split(step)
    ]


def described_resource(
    endpoint: str | None, primary_key: str, parent: str | None, parent_param: str
) -> Resource:
    """The resource an operator's arguments name: a registered one, or one they describe."""
    if not endpoint:
        raise AkinonConfigError(
            "FetchAkinonListOperator needs endpoint= (e.g. 'orders/'), or a registered name."
        )
    if endpoint in REGISTRY:
        return REGISTRY[endpoint]
    name = endpoint.strip("/").replace("/", "_") or endpoint
    return Resource(
        name=name,
        endpoint=endpoint,
        primary_key=primary_key,
        lookup="id",
        parent=parent,
        parent_param=parent_param if parent else None,
        parent_field=parent_param if parent else None,
    )
