"""How much of an exported window changed at the tenant since its export: counted requests, a few at a time.

For each exported partition of a date window (its manifest's ``window``, ``date_field``, ``filters`` and
``endpoint``), two requests of one record each (:meth:`~airflow_provider_akinon.hooks.akinon.AkinonHook.head`:
a list's count and its first record, in one request):

- the window and ``modified_date__gt`` the manifest's ``created_at``: how many of its records changed since
  the export;
- the window alone: its count now, against the manifest's ``records``.

Django REST Framework ignores a filter it does not know, and the count of a query it ignored is not this
one's. So before any window, three questions no record can answer are asked once (of each endpoint, date
field and filters): ``{date_field}__gte`` and ``modified_date__gt`` a moment in the year 2999,
``{date_field}__lt`` one in 1970. A tenant that answers any of them with records ignores that filter: its
windows are not counted, the filter named. These are asked one after the other, so a connection that cannot
be used fails once, not once a day; the first record of every answer after them is checked too. Then the
windows are asked ``max_concurrency`` at a time (a thread each, one request in flight per thread). Not asked: windows on the
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

import orjson

from airflow_provider_akinon.errors import AkinonApiError, AkinonConfigError
from airflow_provider_akinon.resources import REGISTRY
from airflow_provider_akinon.timestamps import parse_instant

log = logging.getLogger(__name__)

#: requests in flight at once by default: the operators' ``max_concurrency``
MAX_CONCURRENCY = 4
#: moments no record's date reaches: a filter honoured finds nothing after the first or before the second
FUTURE, PAST = "2999-01-01T00:00:00.000000Z", "1970-01-02T00:00:00.000000Z"


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
    count_now, first = hook.head(manifest["endpoint"], query, key=key)
    if not _inside(first, date_field, start, end, zone):
        return Drift(note=f"cannot tell: the tenant ignores {date_field}__gte/__lt")
    if changed is None or count_now is None:
        return Drift(note="cannot tell: the list's answers carry no count")
    return Drift(changed, count_now)


def ignored_filter(hook: Any, manifest: Mapping[str, Any]) -> str | None:
    """Which filter of the drift's the tenant ignores, by three queries no record can answer (``None``: none)."""
    resource = REGISTRY[manifest["resource"]]
    date_field, version = manifest["date_field"], str(resource.version_field)
    for name, value in (
        (f"{date_field}__gte", FUTURE),
        (f"{date_field}__lt", PAST),
        (f"{version}__gt", FUTURE),
    ):
        query = {**(manifest.get("filters") or {}), name: value}
        count, first = hook.head(manifest["endpoint"], query, key=resource.primary_key)
        if count or first is not None:
            return f"cannot tell: the tenant ignores {name} ({count} records for {name}={value})"
    return None


def _guarded(hook: Any, manifest: Mapping[str, Any]) -> Drift:
    """:func:`ask`, an API error kept as the window's note."""
    try:
        return ask(hook, manifest)
    except AkinonApiError as err:
        return Drift(note=f"could not ask: {err}")


def _checked(hook: Any, manifests: list[Mapping[str, Any]]) -> list[str | None]:
    """For each window, the filter its tenant ignores (asked once per endpoint, date field and filters)."""
    found: dict[bytes, str | None] = {}
    notes = []
    for manifest in manifests:
        fields = (manifest["endpoint"], manifest["date_field"], manifest.get("filters") or {})
        asked = orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)
        if asked not in found:
            found[asked] = ignored_filter(hook, manifest)
        notes.append(found[asked])
    return notes


def ask_all(
    hook: Any, manifests: list[Mapping[str, Any]], *, max_concurrency: int = MAX_CONCURRENCY
) -> list[Drift]:
    """
    The drift of each exported window of ``manifests``, in their order: first the filters checked (one after
    the other: an error is raised), then ``max_concurrency`` windows asked at once, each its two requests one
    after the other (an error is the window's note).
    """
    if not isinstance(max_concurrency, int) or max_concurrency < 1:
        raise AkinonConfigError(f"max_concurrency={max_concurrency!r} must be a whole number of at least 1.")
    ignored = _checked(hook, manifests)
    asked = [manifest for manifest, note in zip(manifests, ignored, strict=True) if note is None]
    log.info("Asking the tenant of %s windows, %s at a time", len(asked), max_concurrency)
    with ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="akinon-coverage-ask") as pool:
        answers = iter(list(pool.map(lambda manifest: _guarded(hook, manifest), asked)))
    return [Drift(note=note) if note is not None else next(answers) for note in ignored]
