"""How much of an exported window changed at the tenant since its export: counted requests, a few at a time.

For each exported partition of a date window (its manifest's ``window``, ``date_field``, ``filters`` and
``endpoint``), two requests of one record each (:meth:`~airflow_provider_akinon.hooks.akinon.AkinonHook.head`:
a list's count and its first record, in one request):

- the window and ``modified_date__gt`` the manifest's ``created_at``: how many of its records changed since
  the export;
- the window alone: its count now, against the manifest's ``records``.

The first record of each answer is checked against what was asked: Django REST Framework ignores a filter it
does not know, and the count of a query it ignored is not this one's, so it is refused, named, not counted.
Partitions are asked ``max_concurrency`` at a time (a thread each, one request in flight per thread), the
first one alone, so a connection that cannot be used fails once, not once a day. Not asked: windows on the
version field itself (the changes feed: a later change lands in a later window), exports of ids or of an
upstream export's children (no window), tenants whose date filters the export found ignored or taking
days, and exports from another host than the connection's.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from airflow_provider_akinon.errors import AkinonApiError, AkinonConfigError
from airflow_provider_akinon.resources import REGISTRY
from airflow_provider_akinon.timestamps import parse_instant

log = logging.getLogger(__name__)

#: requests in flight at once by default: the operators' ``max_concurrency``
MAX_CONCURRENCY = 4


@dataclass(frozen=True)
class Drift:
    """
    What the tenant says of one exported window now.

    :param changed: its records changed since the export (``None``: not known).
    :param count_now: its count now (``None``: not known).
    :param note: why either is not known.
    """

    changed: int | None = None
    count_now: int | None = None
    note: str | None = None


def unaskable(manifest: Mapping[str, Any], host: str) -> str | None:
    """Why the drift of the export ``manifest`` cannot be asked of the tenant at ``host`` (``None``: it can)."""
    window, date_field = manifest.get("window"), manifest.get("date_field")
    if manifest.get("source") != "window" or not window or not date_field:
        return "drift not asked: not a date window (an id range, or an upstream export's children)"
    resource = REGISTRY.get(str(manifest.get("resource")))
    version = resource.version_field if resource is not None else None
    if version is None:
        return f"drift not asked: no version field is known of {manifest.get('resource')}"
    if date_field == version:
        return (
            f"drift not asked: a {version} window (the changes feed: a later change lands in a later window)"
        )
    probe = manifest.get("probe") or {}
    if probe.get("date_gte") is False or probe.get("date_lt") is False:
        return f"drift not asked: the tenant ignores {date_field} filters (the export cut its window itself)"
    if probe.get("date_unit") == "day":
        return f"drift not asked: the tenant's {date_field} filters take days"
    if str(manifest.get("host") or "").rstrip("/") != host.rstrip("/"):
        return f"drift not asked: exported from {manifest.get('host')}, not from the connection's {host}"
    return None


def _inside(
    record: Mapping[str, Any] | None, field: str, low: datetime, high: datetime | None, zone: Any
) -> bool:
    """Whether ``record``'s ``field`` lies in ``[low, high)`` (``high`` ``None``: after ``low``); no record: yes."""
    if record is None or record.get(field) is None:
        return record is None
    moment = parse_instant(str(record[field]), zone)
    return low <= moment and (high is None or moment < high)


def ask(hook: Any, manifest: Mapping[str, Any]) -> Drift:
    """Ask the tenant two counted questions of one exported window: changed since, and its count now."""
    resource = REGISTRY[manifest["resource"]]
    version, date_field = str(resource.version_field), manifest["date_field"]
    start, end = (datetime.fromisoformat(manifest["window"][edge]) for edge in ("start", "end"))
    since = datetime.fromisoformat(manifest["created_at"])
    query = {
        **(manifest.get("filters") or {}),
        f"{date_field}__gte": manifest["window"]["start"],
        f"{date_field}__lt": manifest["window"]["end"],
    }
    zone, key = hook.config.timezone, resource.primary_key
    changed, first = hook.head(
        manifest["endpoint"], {**query, f"{version}__gt": manifest["created_at"]}, key=key
    )
    if not _inside(first, date_field, start, end, zone):
        return Drift(note=f"cannot tell: the tenant ignores {date_field}__gte/__lt")
    if not _inside(first, version, since, None, zone):
        return Drift(note=f"cannot tell: the tenant ignores {version}__gt")
    count_now, _ = hook.head(manifest["endpoint"], query, key=key)
    if changed is None or count_now is None:
        return Drift(note="cannot tell: the list's answers carry no count")
    return Drift(changed, count_now)


def _guarded(hook: Any, manifest: Mapping[str, Any]) -> Drift:
    """:func:`ask`, an API error kept as the window's note."""
    try:
        return ask(hook, manifest)
    except AkinonApiError as err:
        return Drift(note=f"could not ask: {err}")


def ask_all(
    hook: Any, manifests: list[Mapping[str, Any]], *, max_concurrency: int = MAX_CONCURRENCY
) -> list[Drift]:
    """
    The drift of each exported window of ``manifests``, in their order: ``max_concurrency`` windows asked at
    once, each its two requests one after the other. The first is asked alone, and its error raised.
    """
    if not isinstance(max_concurrency, int) or max_concurrency < 1:
        raise AkinonConfigError(f"max_concurrency={max_concurrency!r} must be a whole number of at least 1.")
    if not manifests:
        return []
    first = ask(hook, manifests[0])
    log.info("Asking %s more windows of the tenant, %s at a time", len(manifests) - 1, max_concurrency)
    with ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="akinon-coverage-ask") as pool:
        rest = list(pool.map(lambda manifest: _guarded(hook, manifest), manifests[1:]))
    return [first, *rest]
