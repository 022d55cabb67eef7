"""What a day's export of a list will cost: the method the plan chooses, and about how many requests."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow_provider_akinon.errors import AkinonError
from airflow_provider_akinon.exports.plan import Ask
from airflow_provider_akinon.exports.planner import plan_export
from airflow_provider_akinon.exports.sources import WindowSource
from airflow_provider_akinon.hooks.akinon import AkinonHook
from airflow_provider_akinon.resources import Resource
from airflow_provider_akinon.timestamps import parse_instant
from airflow_provider_akinon.windows import Window


def day_estimate(hook: AkinonHook, resource: Resource, date_field: str) -> tuple[str, str]:
    """``(method, requests)`` of exporting yesterday's window, as the plan would do it."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    window = Window(today - timedelta(days=1), today)
    ask = Ask(resource, WindowSource(window, date_field), window=window, allow_full_scan=True)
    try:
        plan = plan_export(hook, ask)
    except AkinonError as err:
        return "refused", str(err)[:160]
    caps = plan.caps
    assert caps is not None
    walk = plan.walk
    count, size = caps.count or 0, max(1, caps.page_size)
    per_day = _records_a_day(hook, resource, caps, date_field, count)
    pages = math.ceil(per_day / size) if per_day is not None else None
    if pages is None:
        return walk.method, "unknown (the list's dates cannot be read)"
    extra = walk.extra_requests(count, size, pages)
    return walk.method, f"about {pages + extra:,} ({per_day:,} records a day, {size} a page)"


def _records_a_day(
    hook: AkinonHook, resource: Resource, caps: Any, date_field: str, count: int
) -> int | None:
    """The list's records a day, on average, from the dates of its oldest and newest records."""
    if not caps.sort or not count:
        return None
    ends = []
    for order in (caps.sort, f"-{caps.sort}"):
        records = hook.get_page(resource.endpoint, {caps.sort_param: order, caps.size_param: 1}).parsed
        if not records or not isinstance(records[0].get(date_field), str):
            return None
        ends.append(parse_instant(records[0][date_field], hook.config.timezone))
    days = max(1.0, (ends[1] - ends[0]).total_seconds() / 86400)
    return max(1, round(count / days))
