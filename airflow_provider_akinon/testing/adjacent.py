"""The order-adjacent lists of the fake tenant: cancellation requests, OMS orders and packages, deletions.

Each list is derived from the orders of :class:`~airflow_provider_akinon.testing.data.AkinonData`: its
records' keys, their filterable columns and how one record renders, so the server and the ground truth
(:meth:`Adjacent.expected`) agree by construction, and mutations of orders move them too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

Listing = tuple[list[int], dict[str, list[float]], Callable[[int], bytes]]
#: Order items with a key divisible by this have a cancellation request.
CANCELLED_EVERY = 7


class Adjacent:
    """The lists, each as ``(keys, columns, render)``; call under the data's lock."""

    def __init__(self, data: Any) -> None:
        self.data = data

    def listing(self, name: str) -> Listing:
        """The list ``name`` as ``(keys, columns, render)``."""
        return {
            "cancellation_requests": self.cancellation_requests,
            "oms_orders": self.oms_orders,
            "oms_packages": self.oms_packages,
            "deleted_items": self.deleted_items,
        }[name]()

    def cancellation_requests(self) -> Listing:
        """A request for every ``CANCELLED_EVERY``-th order item, an hour after its order."""
        data = self.data
        pks = range(CANCELLED_EVERY, data.item_offsets[-1] + 1, CANCELLED_EVERY)
        owners = [data.item_order(pk) for pk in pks]
        columns = {
            "created_date": [data.created[o - 1] + 3600 for o in owners],
            "modified_date": [data.modified[o - 1] for o in owners],
        }

        def render(key: int) -> bytes:
            order = owners[key - 1]
            return orjson.dumps(
                {
                    "id": key,
                    "order_item": key * CANCELLED_EVERY,
                    "order": order,
                    "reason": "Vazgeçtim",
                    "cancellation_type": "cancel",
                    "status": "waiting",
                    "created_date": data.iso(columns["created_date"][key - 1]),
                    "modified_date": data.iso(columns["modified_date"][key - 1]),
                }
            )

        return list(range(1, len(owners) + 1)), columns, render

    def oms_orders(self) -> Listing:
        """The visible orders as OMS renders them, with their items."""
        data = self.data
        ids = data.visible()
        columns = {
            "created_date": [data.created[o - 1] for o in ids],
            "modified_date": [data.modified[o - 1] for o in ids],
        }

        def render(order_id: int) -> bytes:
            order = data.order(order_id)
            return orjson.dumps(
                {
                    "id": order_id,
                    "number": order["number"],
                    "state": {"enum_class": "OrderStatus", "enum_value": order["status"]},
                    "amount": order["amount"],
                    "created_date": order["created_date"],
                    "modified_date": order["modified_date"],
                    "orderitem_set": [data.oms_item(pk) for pk in data.item_pks(order_id)],
                }
            )

        return ids, columns, render

    def oms_packages(self) -> Listing:
        """A package for every visible order, half an hour after it."""
        data = self.data
        ids = data.visible()
        columns = {
            "created_date": [data.created[o - 1] + 1800 for o in ids],
            "modified_date": [data.modified[o - 1] for o in ids],
        }
        at = dict(zip(ids, range(len(ids)), strict=True))

        def render(order_id: int) -> bytes:
            i = at[order_id]
            return orjson.dumps(
                {
                    "id": order_id,
                    "order": order_id,
                    "state": {"enum_class": "PackageStatus", "enum_value": "preparing"},
                    "created_date": data.iso(columns["created_date"][i]),
                    "modified_date": data.iso(columns["modified_date"][i]),
                }
            )

        return ids, columns, render

    def deleted_items(self) -> Listing:
        """A record for every deleted order, in the order they were deleted."""
        data = self.data
        deleted = list(data.deleted.items())  # (order id, deleted at), in the order they were deleted
        columns = {"deleted_date": [at for _, at in deleted]}

        def render(key: int) -> bytes:
            order_id, at = deleted[key - 1]
            return orjson.dumps(
                {
                    "id": key,
                    "object_id": order_id,
                    "content_type": 42,
                    "content_type_model": "order",
                    "deleted_date": data.iso(at),
                }
            )

        return list(range(1, len(deleted) + 1)), columns, render

    def expected(self, name: str, date_field: str, lo: float | None, hi: float | None) -> list[int]:
        """Keys of the list's records whose ``date_field`` lies in ``[lo, hi)``, ascending."""
        with self.data.lock:
            keys, columns, _ = self.listing(name)
            column = columns[date_field]
            return sorted(
                key
                for key, at in zip(keys, column, strict=True)
                if (lo is None or lo <= at) and (hi is None or at < hi)
            )
