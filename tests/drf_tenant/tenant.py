"""Start the DRF test tenant from a test, and read the ground truth from its database."""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from tests.drf_tenant.serve import PASSWORD, USER

ROOT = Path(__file__).parents[2]
TABLES = {
    "orders": "drf_tenant_order",
    "order_items": "drf_tenant_orderitem",
    "discount_items": "drf_tenant_discountitem",
    "deleted_items": "drf_tenant_deleteditem",
    "versions": "drf_tenant_orderversion",
    "products": "drf_tenant_product",
    "stock_moves": "drf_tenant_stockmove",
    "benefit_applicants": "drf_tenant_benefitapplicant",
}


def instant(value: str | datetime) -> datetime:
    """A datetime as Django stores it (UTC text in SQLite, a timestamp in PostgreSQL), as an aware datetime."""
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


BUSY_SHOP = {"inserts": 2, "updates": 3, "deletes": 1}  # a second: a shop's writes while tests export


class Tenant:
    """A running tenant: its URL, its database, and what its tables hold now."""

    def __init__(self, url: str, db: Path | str, process: subprocess.Popen | None) -> None:
        self.url, self.db, self.process = url, db, process  # db: a SQLite file, or a postgresql:// URL

    def stop_writes(self, *, timeout: float = 60) -> None:
        """Stop the writer (the API stays up) and wait until its last write is done."""
        self.process.send_signal(signal.SIGUSR1)
        assert _line(self.process, "STOPPED", time.monotonic() + timeout) is not None, (
            "the writer did not stop"
        )

    def requests(self) -> int:
        """How many requests the tenant has served."""
        with urllib.request.urlopen(f"{self.url}/_requests", timeout=30) as answer:
            return int(answer.read())

    def connection_json(self, **extra: object) -> str:
        conn = {"conn_type": "akinon", "host": self.url, "login": USER, "password": PASSWORD}
        return json.dumps({**conn, "extra": {"backoff": 0.05, "max_wait": 5, **extra}})

    def rows(self, resource: str, *columns: str) -> list[tuple]:
        query = f"SELECT {', '.join(columns)} FROM {TABLES[resource]}"
        if str(self.db).startswith("postgresql://"):
            import psycopg2

            with contextlib.closing(psycopg2.connect(str(self.db))) as db, db.cursor() as cursor:
                cursor.execute(query)
                return cursor.fetchall()
        with contextlib.closing(sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=30)) as db:
            return db.execute(query).fetchall()

    def ids(self, resource: str, field: str, start: datetime, end: datetime) -> list[int]:
        """Keys of the records whose ``field`` lies in ``[start, end)`` now."""
        return sorted(key for key, at in self.rows(resource, "id", field) if start <= instant(at) < end)

    def children(self, resource: str, orders: list[int]) -> list[int]:
        wanted = set(orders)
        return sorted(key for key, order in self.rows(resource, "id", "order_id") if order in wanted)

    def current(self, resource: str = "orders") -> dict[int, tuple[str, datetime]]:
        """Every record's status and ``modified_date`` now (the current state a Delta table must hold)."""
        return {
            key: (status, instant(at))
            for key, status, at in self.rows(resource, "id", "status", "modified_date")
        }


@contextlib.contextmanager
def drf_tenant(
    home: Path,
    *,
    switches: tuple[str, ...] = (),
    tz: str = "UTC",
    orders: int = 3000,
    products: int = 0,
    stock_moves: int = 0,
    days: float = 3,
    inserts: float = 0,
    updates: float = 0,
    deletes: float = 0,
    least_deleted: int = 0,
    until: float = 1,
    throttle: str = "60/s",
) -> Iterator[Tenant]:
    """Run a tenant (its own database under ``home``) for the length of the ``with`` block."""
    home.mkdir(parents=True, exist_ok=True)
    db = home / "tenant.sqlite3"
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "DRF_TENANT_DB": str(db),
        "DRF_TENANT_SWITCHES": ",".join(switches),
        "DRF_TENANT_TZ": tz,
        "DRF_TENANT_THROTTLE": throttle,
    }
    command = [sys.executable, "-m", "tests.drf_tenant.serve", "--orders", str(orders), "--days", str(days)]
    command += ["--inserts", str(inserts), "--updates", str(updates), "--deletes", str(deletes)]
    command += ["--until", str(until), "--products", str(products), "--least-deleted", str(least_deleted)]
    command += ["--stock-moves", str(stock_moves)]
    process = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=home.joinpath("tenant.log").open("wb")
    )
    try:
        line = _line(process, "READY", time.monotonic() + 120)
        if line is None:
            log = home.joinpath("tenant.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"the DRF tenant did not start (exit {process.poll()}):\n{log}")
        yield Tenant(f"http://127.0.0.1:{int(line.split()[1])}", db, process)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _line(process: subprocess.Popen, word: str, deadline: float) -> str | None:
    """The next line the tenant prints that starts with ``word`` (``None``: none before ``deadline``)."""
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    while time.monotonic() < deadline:
        if selector.select(timeout=max(0.0, deadline - time.monotonic())):
            line = process.stdout.readline().decode()
            if line.startswith(word):
                return line
            if not line:
                return None
    return None
