"""Deterministic synthetic Akinon data, shaped like the seed pages of Akinon's documentation.

Orders, their order items and discount items are a pure function of ``(seed, id)`` plus a few
mutable columns (dates, status) kept in arrays, so a 200,000-order tenant costs little memory, builds in
about a second, and can be mutated (records inserted or modified) while a client pages through it.
Records are rendered straight to JSON bytes and cached until mutated.
"""

from __future__ import annotations

import bisect
import random
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from itertools import accumulate
from typing import Any

import orjson

from airflow_provider_akinon.testing.adjacent import Adjacent
from airflow_provider_akinon.testing.shapes import RecordShapes

STATUSES = ("50", "100", "200", "300", "350", "400", "450", "500", "510", "520", "550", "600")
STATUS_WEIGHTS = (1, 4, 2, 2, 1, 30, 10, 20, 5, 2, 20, 3)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def micro(ts: float) -> float:
    """``ts`` to the microsecond, as a database stores it: filters and rendered values then agree exactly."""
    return round(ts * 1_000_000) / 1_000_000


def iso(ts: float) -> str:
    """Render epoch seconds the way Akinon does: ``2021-05-11T06:42:55.684412Z``."""
    return (EPOCH + timedelta(microseconds=round(ts * 1_000_000))).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_ts(value: str, naive_zone=UTC) -> float:
    """Parse an ISO date or datetime (``Z`` or offset; naive is ``naive_zone``) into epoch seconds."""
    text = value.strip().replace(" ", "+") if "T" in value else value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=naive_zone)
    return moment.timestamp()


class AkinonData(RecordShapes):
    """
    A tenant's orders, order items and discount items.

    :param orders: number of orders.
    :param start: first day of the data (``YYYY-MM-DD``), UTC.
    :param days: orders are spread evenly over this many days, ids ascending with ``created_date``.
    :param seed: everything derives from it; the same seed gives the same tenant.
    :param timestamps: how timestamps are written: ``Z`` (UTC, as Akinon's docs show), an offset such as
        ``+03:00`` (a Django site with ``TIME_ZONE`` set), or ``naive+03:00`` (local time, no offset).
    """

    def __init__(
        self,
        orders: int = 300,
        *,
        start: str = "2026-01-01",
        days: int = 3,
        seed: int = 1,
        timestamps: str = "Z",
    ) -> None:
        self.seed = seed
        self.set_timestamps(timestamps)
        self.start = parse_ts(start)
        self.days = days
        self.end = self.start + days * 86400
        self.lock = threading.RLock()
        self.version = 0
        self.ids: list[int] = []
        self.created: list[float] = []
        self.modified: list[float] = []
        self.placed: list[float] = []
        self.status: list[str] = []
        self.is_send: list[bool] = []
        self.n_items: list[int] = []
        self.n_discounts: list[int] = []
        self._cache: dict[tuple[str, int], bytes] = {}
        #: orders rendered with ``created_date: null`` (their filters still see the stored date)
        self.null_dates: set[int] = set()
        #: deleted orders (gone from every list) and when: what ``deleted_items/`` lists
        self.deleted: dict[int, float] = {}
        #: (first order id, list name, change): the tenant's schema moving (see :meth:`drift`)
        self.drifts: list[tuple[int, str, Callable[[dict], Any]]] = []
        self.adjacent = Adjacent(self)
        step = (self.end - self.start) / max(orders, 1)
        rng = random.Random(seed)
        for i in range(orders):
            self._append(self.start + (i + rng.random()) * step, rng)
        self._reindex()

    # ------------------------------------------------------------------ building and mutating
    def _append(self, created: float, rng: random.Random) -> int:
        order_id = len(self.ids) + 1
        self.ids.append(order_id)
        self.created.append(micro(created))
        self.placed.append(micro(created - rng.uniform(0, 30)))
        self.modified.append(micro(created + rng.uniform(0, 36 * 3600)))
        self.status.append(rng.choices(STATUSES, STATUS_WEIGHTS)[0])
        self.is_send.append(rng.random() < 0.7)
        self.n_items.append(rng.randint(1, 4))
        self.n_discounts.append(rng.choice((0, 0, 1, 1, 2)))
        return order_id

    def _reindex(self) -> None:
        self.item_offsets = [0, *accumulate(self.n_items)]
        self.discount_offsets = [0, *accumulate(self.n_discounts)]
        self.version += 1

    def delete_order(self, order_id: int, *, at: float) -> None:
        """Delete an order (and with it its items and discounts) at ``at``: ``deleted_items/`` lists it."""
        with self.lock:
            self.deleted[order_id] = micro(at)
            self.version += 1

    def visible(self) -> list[int]:
        """The ids of the orders not deleted, ascending (cached until the data changes)."""
        cached = getattr(self, "_visible", None)
        if cached is None or cached[0] != self.version:
            self._visible = (self.version, [i for i in self.ids if i not in self.deleted])
        return self._visible[1]

    def blank_date(self, order_id: int) -> None:
        """Render the order's ``created_date`` as null from now on (the filters still see its date)."""
        with self.lock:
            self.null_dates.add(order_id)
            self._cache.pop(("order", order_id), None)

    def insert_order(self, created: float | None = None, *, modified: float | None = None) -> int:
        """
        Insert an order (a new highest id); ``created`` defaults to a random moment of the data range,
        ``modified`` to a moment after it.
        """
        with self.lock:
            rng = random.Random(self.seed * 7919 + len(self.ids))
            order_id = self._append(
                created if created is not None else rng.uniform(self.start, self.end), rng
            )
            if modified is not None:
                self.modified[-1] = micro(modified)
            self._reindex()
            return order_id

    def modify_order(
        self, order_id: int, *, modified: float | None = None, status: str | None = None
    ) -> None:
        """Change an order's ``modified_date`` (moving it between modified_date windows) and status."""
        with self.lock:
            i = order_id - 1
            rng = random.Random(self.seed * 104729 + order_id + self.version)
            self.modified[i] = micro(modified if modified is not None else rng.uniform(self.start, self.end))
            self.status[i] = status or rng.choices(STATUSES, STATUS_WEIGHTS)[0]
            for kind in ("order", "items", "discounts"):
                self._cache.pop((kind, order_id), None)
            self.version += 1

    # ------------------------------------------------------------------ ground truth
    def order_ids(
        self, date_field: str = "created_date", start: float | None = None, end: float | None = None
    ):
        """Ids of the orders whose ``date_field`` lies in ``[start, end)``, ascending."""
        column = self.column(date_field)
        lo = -float("inf") if start is None else start
        hi = float("inf") if end is None else end
        return [
            oid for oid, ts in zip(self.ids, column, strict=True) if lo <= ts < hi and oid not in self.deleted
        ]

    def expected(self, resource: str, date_field: str = "created_date", start=None, end=None) -> list[int]:
        """Ground truth: primary keys an export of ``resource`` over ``[start, end)`` must hold, in order.

        ``start``/``end`` are epoch seconds or ISO strings. Order items and discount items follow the
        window's orders; OMS order items are cut on their own dates.
        """
        lo = parse_ts(start) if isinstance(start, str) else start
        hi = parse_ts(end) if isinstance(end, str) else end
        if resource in ("cancellation_requests", "oms_orders", "oms_packages", "deleted_items"):
            return self.adjacent.expected(resource, date_field, lo, hi)
        if resource == "oms_order_items":
            shift = 0.01 if date_field == "created_date" else 0.0
            column = self.column(date_field)
            return [
                pk
                for oid in self.ids
                if (lo is None or lo <= column[oid - 1] + shift)
                and (hi is None or column[oid - 1] + shift < hi)
                for pk in self.item_pks(oid)
            ]
        with self.lock:
            orders = self.order_ids(date_field, lo, hi)
        children = {
            "orders": lambda oid: [oid],
            "order_items": self.item_pks,
            "discount_items": self.discount_pks,
        }
        return [pk for oid in orders for pk in children[resource](oid)]

    def item_pks(self, order_id: int) -> list[int]:
        """The keys of an order's items."""
        return list(range(self.item_offsets[order_id - 1] + 1, self.item_offsets[order_id] + 1))

    def discount_pks(self, order_id: int) -> list[int]:
        """The keys of an order's discount items."""
        return list(range(self.discount_offsets[order_id - 1] + 1, self.discount_offsets[order_id] + 1))

    def item_order(self, pk: int) -> int:
        """The order id of order item ``pk``."""
        return bisect.bisect_left(self.item_offsets, pk)

    def column(self, date_field: str) -> list[float]:
        """The epoch seconds of ``date_field`` of every order, by id."""
        return {"created_date": self.created, "modified_date": self.modified, "date_placed": self.placed}[
            date_field
        ]

    # ------------------------------------------------------------------ rendering
    def set_timestamps(self, style: str) -> None:
        """Write timestamps as ``Z``, with an offset (``+03:00``) or naive local time (``naive+03:00``)."""
        naive = style.startswith("naive")
        offset = style.removeprefix("naive") or "+00:00"
        if style == "Z":
            self.zone, self.naive = UTC, False
        else:
            sign = -1 if offset[0] == "-" else 1
            hours, minutes = (int(part) for part in offset[1:].split(":"))
            self.zone, self.naive = timezone(sign * timedelta(hours=hours, minutes=minutes)), naive
        self.timestamps = style
        if hasattr(self, "_cache"):
            with self.lock:
                self._cache.clear()
                self.version += 1

    def iso(self, ts: float) -> str:
        """Render epoch seconds in this tenant's timestamp style (``Z``, an offset, or naive)."""
        if self.timestamps == "Z":
            return iso(ts)
        moment = (EPOCH + timedelta(microseconds=round(ts * 1_000_000))).astimezone(self.zone)
        text = moment.strftime("%Y-%m-%dT%H:%M:%S.%f")
        return text if self.naive else text + moment.strftime("%z")[:3] + ":" + moment.strftime("%z")[3:]

    def order_json(self, order_id: int) -> bytes:
        """The order as JSON bytes, cached (``created_date`` null for orders in ``null_dates``)."""
        key = ("order", order_id)
        cached = self._cache.get(key)
        if cached is None:
            order = self.order(order_id)
            if order_id in self.null_dates:
                order["created_date"] = None
            cached = self._cache[key] = orjson.dumps(self._drifted("orders", order_id, order))
        return cached

    def items_json(self, order_id: int) -> list[bytes]:
        """The order's items, each as JSON bytes."""
        return [orjson.dumps(self._drifted("order_items", order_id, i)) for i in self.items(order_id)]

    def discounts_json(self, order_id: int) -> list[bytes]:
        """The order's discount items, each as JSON bytes."""
        return [orjson.dumps(self._drifted("discount_items", order_id, d)) for d in self.discounts(order_id)]

    def drift(self, list_name: str, from_order: int, change: Callable[[dict], Any]) -> None:
        """From order ``from_order`` on, the records of ``list_name`` (``orders``, ``order_items``,
        ``discount_items``) pass through ``change``, which edits a record in place: a field added, a type
        changed, as a tenant's upgrade does mid-backfill."""
        with self.lock:
            self.drifts.append((from_order, list_name, change))
            self._cache.clear()

    def _drifted(self, list_name: str, order_id: int, record: dict) -> dict:
        for first, name, change in self.drifts:
            if name == list_name and order_id >= first:
                change(record)
        return record
