"""Five days of order changes on the fake server, exported into a table: what the table formats' tests share.

``export_changes`` exports one day's ``modified_date`` window into a Delta or Iceberg table;
``change_orders_of`` changes orders between runs as a tenant does; ``merge_both_at_once`` and
``kill_at`` run an export in a child process, to merge two at once or to kill one at a chosen step.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import os
import random
import signal
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

from airflow_provider_akinon.operators.akinon import FetchOrdersOperator
from airflow_provider_akinon.testing import AkinonData, FakeAkinonServer
from airflow_provider_akinon.testing.data import parse_ts

DAYS = [f"2026-01-0{day}" for day in range(1, 6)]
END = "2026-01-06"


def day_end(day: str) -> str:
    """The day after ``day`` (of January 2026)."""
    return f"2026-01-0{int(day[-1]) + 1}"


def export_changes(table: str, day: str, file_format: str) -> dict:
    """Export the orders modified on ``day`` into ``table`` (merged)."""
    return FetchOrdersOperator(
        task_id="changes",
        destination=table,
        date_field="modified_date",
        start=day,
        end=day_end(day),
        file_format=file_format,
        page_size=20,
    ).execute({})


@contextlib.contextmanager
def changes_tenant(monkeypatch) -> Iterator[FakeAkinonServer]:
    """The fake server with 400 orders over the five days, as the ``akinon_default`` connection."""
    data = AkinonData(orders=400, start="2026-01-01", days=5, seed=31)
    with FakeAkinonServer(data) as server:
        monkeypatch.setenv("AIRFLOW_CONN_AKINON_DEFAULT", server.connection_json())
        yield server


def current_state(data: AkinonData, end: str = END) -> dict[int, dict]:
    """The server's orders modified from the first day up to ``end``, as the API returns them now."""
    return {oid: data.order(oid) for oid in data.expected("orders", "modified_date", DAYS[0], end)}


def change_orders_of(data: AkinonData, day: str, rng: random.Random) -> None:
    """
    Between runs: status changes and new orders, all modified within ``day`` (the next run's window). As
    on a real tenant, a change only ever moves an order's ``modified_date`` forward.
    """
    start = parse_ts(day)
    older = [oid for oid in data.ids if data.modified[oid - 1] < start]
    for order_id in rng.sample(older, min(8, len(older))):
        data.modify_order(
            order_id, modified=start + rng.uniform(0, 86_000), status=rng.choice(("500", "550", "100"))
        )
    for _ in range(3):
        new = data.insert_order(created=start + rng.uniform(0, 80_000))
        data.modify_order(new, modified=start + rng.uniform(80_000, 86_000))


def _before(where: tuple[str, str, str], first) -> None:
    """Make the method at ``where`` (module, class, method) call ``first()`` before it runs."""
    owner = getattr(importlib.import_module(where[0]), where[1])
    step = getattr(owner, where[2])

    def preceded(self, *args, **kwargs):
        first()
        return step(self, *args, **kwargs)

    setattr(owner, where[2], preceded)


def _export_after(first, where: tuple[str, str, str], table: str, day: str, file_format: str) -> None:
    """Child process: export ``day``, calling ``first()`` when it reaches ``where``."""
    _before(where, first)
    export_changes(table, day, file_format)


def _announce(marker: str, hold: bool) -> None:
    Path(marker).write_text("here")
    while hold:  # the parent kills this process here: the step never runs
        time.sleep(1)


def merge_both_at_once(table: str, days: list[str], file_format: str) -> list:
    """Export two days in two processes whose merges start together (both staged, then both finish)."""
    spawn = multiprocessing.get_context("spawn")
    barrier = spawn.Barrier(2, timeout=300)
    where = ("airflow_provider_akinon.exports.export", "Export", "finish")
    runs = [
        spawn.Process(target=_export_after, args=(barrier.wait, where, table, day, file_format))
        for day in days
    ]
    for run in runs:
        run.start()
    for run in runs:
        run.join(timeout=600)
    return [run.exitcode for run in runs]


def kill_at(
    where: tuple[str, str, str], marker: Path, table: str, day: str, file_format: str, *, hold: bool
) -> None:
    """Run the export of ``day`` in a child process and SIGKILL it once it reaches ``where`` (held there,
    or once the step has started)."""
    child = multiprocessing.get_context("spawn").Process(
        target=_export_after, args=(partial(_announce, str(marker), hold), where, table, day, file_format)
    )
    child.start()
    while not marker.exists():  # the child reached the step
        assert child.is_alive(), "the export ended before it could be killed"
        time.sleep(0.005)  # polling the marker, not waiting for time
    os.kill(child.pid, signal.SIGKILL)
    child.join()
    assert child.exitcode == -signal.SIGKILL
