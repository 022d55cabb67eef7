"""Export roots built for the coverage tests, by the provider's own code: nothing here writes a manifest or a
lease by hand.

One window is exported for real by the operator (its manifest is the template: the probe, the host, the
format as a real export records them); every other partition is published by
:class:`~airflow_provider_akinon.exports.commit.target.ExportTarget` from part files written by
:class:`~airflow_provider_akinon.exports.formats.parts.PartWriter` with the fake tenant's records of its
window, exactly as an export lands them. A run "killed" at a write of its publish is a real publish whose
store stops answering there (every later call fails, its heartbeat too): what a SIGKILL leaves.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any

from airflow_provider_akinon.exports.commit.lease import STAGING
from airflow_provider_akinon.exports.commit.settings import PublishSettings
from airflow_provider_akinon.exports.commit.storage import destination_path, read_manifest
from airflow_provider_akinon.exports.commit.target import ExportTarget
from airflow_provider_akinon.exports.formats.jsonl import JsonLines
from airflow_provider_akinon.exports.formats.parts import PartWriter
from airflow_provider_akinon.hooks.paging.records import Records
from airflow_provider_akinon.operators.akinon import FetchOrdersOperator
from airflow_provider_akinon.resources import ORDERS
from airflow_provider_akinon.timestamps import api_time

DAY, HOUR = timedelta(days=1), timedelta(hours=1)
#: what a publish adds to the manifest it is given
ADDED = ("version", "run", "files", "replaces", "provider_version")
SETTINGS = PublishSettings(lease_timeout=60.0, retention=3600.0, max_wait=5.0)
#: the writes of a publish into a fresh folder, in order (the heartbeat's aside)
ACQUIRE, INTENT, PLACE, COMMIT, POINT, RELEASE = range(1, 7)
WRITES = ("create", "swap", "put", "delete", "touch", "place")


class Killed(BaseException):
    """The run's process is gone: no store call of it answers any more."""


def midnight(day: date) -> datetime:
    """The start of ``day``, UTC."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def partition(root: str, start: datetime, *, hourly: bool = False) -> str:
    """The folder of the partition starting at ``start``, as the example DAGs name it."""
    name = f"hour={start:%Y-%m-%dT%H}" if hourly else f"date={start:%Y-%m-%d}"
    return f"{root.rstrip('/')}/{name}/"


class Store:
    """A store that stops answering at its ``kill_at``-th write (``None``: never): every call after fails."""

    def __init__(self, real: Any, kill_at: int | None) -> None:
        self.real, self.kill_at, self.writes, self.dead = real, kill_at, 0, False

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.real, name)
        if not callable(method):
            return method

        def call(*args: Any, **kwargs: Any) -> Any:
            if name in WRITES and not str(args[0]).endswith("_beat") and "/.write-" not in str(args[0]):
                self.writes += 1
                self.dead = self.dead or self.writes == self.kill_at
            if self.dead:
                raise Killed(f"killed before {name} {args[0]}")
            return method(*args, **kwargs)

        return call


class Tenant:
    """
    Publishes windows of the fake tenant's orders under a root, as the provider does.

    :param server: the fake Akinon server (``AIRFLOW_CONN_AKINON_DEFAULT`` points at it).
    :param root: the export root (a folder or an ``s3://`` URI).
    :param date_field: the date the windows cut.
    """

    def __init__(self, server: Any, root: str, *, date_field: str = "created_date") -> None:
        self.server, self.root, self.date_field = server, root, date_field
        self.template: dict[str, Any] = {}

    def export(
        self, start: datetime, end: datetime, *, hourly: bool = False, **operator: Any
    ) -> dict[str, Any]:
        """Export one window for real with the operator; its manifest becomes the template of the others."""
        dest = partition(self.root, start, hourly=hourly)
        FetchOrdersOperator(
            task_id="o",
            destination=dest,
            start=api_time(start),
            end=api_time(end),
            date_field=self.date_field,
            **operator,
        ).execute({})
        manifest = read_manifest(dest)
        self.template = {k: v for k, v in manifest.items() if k not in ADDED}
        return manifest

    def stamp(self, end: datetime) -> datetime:
        """When a synthetic window is exported: two days after it ends (every order's own changes are over by
        then: the fake tenant modifies an order up to 36 hours after its creation)."""
        return end + 2 * DAY

    def manifest(self, start: datetime, end: datetime, records: int) -> dict[str, Any]:
        """The manifest an export of ``[start, end)`` hands the publish."""
        window = {"start": api_time(start), "end": api_time(end)}
        stamp = api_time(self.stamp(end))
        return {**self.template, "window": window, "records": records, "count": records, "created_at": stamp}

    def target(self, start: datetime, *, hourly: bool = False, kill_at: int | None = None) -> ExportTarget:
        """A run of the window starting at ``start``: its heartbeat started, its records staged."""
        target = ExportTarget(destination_path(partition(self.root, start, hourly=hourly)), settings=SETTINGS)
        target.__dict__["store"] = Store(target.store, kill_at)
        target.check_owner(table=False)
        target.prepare()
        return target

    def publish(
        self, start: datetime, end: datetime, *, hourly: bool = False, kill_at: int | None = None
    ) -> ExportTarget:
        """Publish ``[start, end)`` as an export does; with ``kill_at``, the run is killed before that write."""
        target = self.target(start, hourly=hourly, kill_at=kill_at)
        ids = self.server.data.order_ids(self.date_field, start.timestamp(), end.timestamp())
        writer = PartWriter(target.staging, "s00000", JsonLines(), ORDERS, 256 * 2**20)
        writer.write(Records(raw=[self.server.data.order_json(i) for i in ids]))
        parts = [part.as_dict() for part in writer.close()]
        try:
            target.publish(parts, self.manifest(start, end, len(ids)))
        except Killed:
            assert target._liveness is not None
            target._liveness.stop()  # its process is gone: no heartbeat, no clean-up
            return target
        target.close()
        return target

    def publish_all(self, starts: list[datetime], step: timedelta, *, hourly: bool = False) -> None:
        """Publish the windows starting at ``starts``, each ``step`` long, eight at a time."""
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda start: self.publish(start, start + step, hourly=hourly), starts))


def age(root: str, start: datetime, token: str, *, hourly: bool = False, seconds: float = 3600) -> None:
    """Date a local run's staging ``seconds`` back: its heartbeat stopped that long ago."""
    folder = destination_path(partition(root, start, hourly=hourly)).path + f"/{STAGING}{token}"
    then = time.time() - seconds
    for path, _, files in os.walk(folder):
        for name in files:
            os.utime(f"{path}/{name}", (then, then))


@contextlib.contextmanager
def in_flight(server: Any, *, latency: float = 0.0) -> Iterator[Callable[[], int]]:
    """Count the fake server's requests in flight, each held ``latency`` seconds (so that they overlap);
    yield what reads the most seen at once."""
    lock, now, most = threading.Lock(), [0], [0]
    real = server.handle

    def handle(handler: Any, method: str) -> None:
        with lock:
            now[0] += 1
            most[0] = max(most[0], now[0])
        try:
            real(handler, method)
        finally:
            with lock:
                now[0] -= 1

    server.handle, server.faults.latency = handle, latency
    try:
        yield lambda: most[0]
    finally:
        server.handle, server.faults.latency = real, 0.0
