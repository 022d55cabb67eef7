"""The partitions of an export root as storage holds them: each one's interval, manifest, lease and staging.

An export root holds a folder per interval, as the example DAGs write them: ``date=YYYY-MM-DD/`` (a UTC
day), ``hour=YYYY-MM-DDTHH/`` (an hour) or ``hour=YYYY-MM-DDTHHMM/`` (a shorter interval: its end is
the manifest's window's). One recursive listing of the root finds every partition and the times of the
objects in its runs' staging folders (``_akinon/staging/<run>/``); each manifest is then read with
:func:`~airflow_provider_akinon.exports.commit.storage.read_manifest` and each lease decoded as the commit
protocol wrote it (:class:`~airflow_provider_akinon.exports.commit.lease.LeaseState`), a few at a time.
Nothing is written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow_provider_akinon.errors import DestinationError
from airflow_provider_akinon.exports.commit.lease import LEASE, STAGING, LeaseState
from airflow_provider_akinon.exports.commit.storage import MANIFEST, read_manifest
from airflow_provider_akinon.exports.commit.store import Entry, Store, store_for

#: A partition folder's name: ``date=2026-01-01``, ``hour=2026-01-01T03`` or ``hour=2026-01-01T0315``.
PARTITION = re.compile(
    r"^(?:date=(?P<date>\d{4}-\d{2}-\d{2})|hour=(?P<hour>\d{4}-\d{2}-\d{2}T\d{2})(?P<minute>\d{2})?)$"
)
#: How many manifests and leases are read at once.
READERS = 8


@dataclass(frozen=True)
class Partition:
    """
    One partition folder as found.

    :param name: the folder's name (``date=2026-01-01``).
    :param start: the start of its interval (UTC), read off the name.
    :param end: the end of its interval: the next day or hour; for shorter intervals the manifest's window's
        end (``None`` without a manifest).
    :param manifest: its manifest (``None``: none published).
    :param lease: its publish lease (``None``: no run ever took it).
    :param staged: the runs with a staging folder in it, each with the time of its newest object (the
        store's clock: a live run's heartbeat keeps it fresh).
    :param problem: why its manifest or lease could not be read (``None``: both read, or absent).
    """

    name: str
    uri: str
    start: datetime
    end: datetime | None
    manifest: dict[str, Any] | None = None
    lease: LeaseState | None = None
    staged: Mapping[str, float] = field(default_factory=dict)
    problem: str | None = None


def interval(name: str) -> tuple[datetime, datetime | None] | None:
    """The interval a partition's folder name says (``None``: not a partition's name)."""
    match = PARTITION.match(name)
    if match is None:
        return None
    if match["date"]:
        start = datetime.strptime(match["date"], "%Y-%m-%d").replace(tzinfo=UTC)
        return start, start + timedelta(days=1)
    start = datetime.strptime(match["hour"], "%Y-%m-%dT%H").replace(tzinfo=UTC)
    if match["minute"]:
        return start + timedelta(minutes=int(match["minute"])), None
    return start, start + timedelta(hours=1)


def partition_names(store: Store) -> list[str]:
    """The partition folders directly under the store's root, by name."""
    names = {entry.key.rstrip("/") for entry in store.listing("")}
    return sorted(name for name in names if interval(name) is not None)


def _staged(entries: list[Entry]) -> dict[str, dict[str, float]]:
    """For each partition, its runs' staging folders and the time of each one's newest object."""
    found: dict[str, dict[str, float]] = {}
    for entry in entries:
        name, _, rest = entry.key.partition("/")
        if not rest.startswith(STAGING) or interval(name) is None:
            continue
        token = rest[len(STAGING) :].split("/", 1)[0]
        runs = found.setdefault(name, {})
        runs[token] = max(runs.get(token, entry.modified), entry.modified)
    return found


def _read(root: Any, store: Store, name: str, keys: set[str], staged: dict[str, float]) -> Partition:
    """One partition: its manifest and lease read where the listing found them."""
    start, end = interval(name) or (datetime.min.replace(tzinfo=UTC), None)
    manifest = lease = problem = None
    try:
        if f"{name}/{MANIFEST}" in keys:
            manifest = read_manifest(root / name)
        if f"{name}/{LEASE}" in keys:
            found = store.read(f"{name}/{LEASE}")
            lease = LeaseState.decode(found.data) if found is not None else None
    except (DestinationError, ValueError) as err:
        problem = str(err)
    if end is None and manifest is not None and manifest.get("window"):
        end = datetime.fromisoformat(manifest["window"]["end"])
    uri = str(root).rstrip("/") + f"/{name}/"
    return Partition(name, uri, start, end, manifest, lease, staged, problem)


def read_partitions(root: Any) -> list[Partition]:
    """
    Every partition under ``root`` (an ``ObjectStoragePath``), oldest first: a listing of the root (and of its
    folders, for empty ones), then the manifests and leases it found, :data:`READERS` at a time.
    """
    store = store_for(root, "")
    entries = store.listing("", recursive=True)
    keys = {entry.key for entry in entries}
    named = {key.split("/", 1)[0] for key in keys if "/" in key}
    names = sorted({name for name in named if interval(name)} | set(partition_names(store)))  # empty ones too
    staged = _staged(entries)
    with ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="akinon-coverage-read") as pool:
        found = list(pool.map(lambda name: _read(root, store, name, keys, staged.get(name, {})), names))
    return sorted(found, key=lambda partition: partition.start)
