"""Where an export's records come from: a date window, an id range, parent ids, an upstream export, or the
parents another plan walks. Each says what the manifest records of it and how logs name it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_akinon.windows import Window

if TYPE_CHECKING:
    from airflow_provider_akinon.exports.plan import Plan


@dataclass(frozen=True)
class WindowSource:
    """The records whose ``date_field`` lies in ``window``, walked in sub-windows of ``step``."""

    window: Window
    date_field: str
    step: timedelta | None = None

    def describe(self) -> dict[str, Any]:
        """What the manifest records: the window and its date field."""
        return {"source": "window", "window": self.window.as_dict(), "date_field": self.date_field}

    def label(self) -> str:
        """The window, for logs."""
        return str(self.window)


@dataclass(frozen=True)
class IdRange:
    """The records ``after_id < key <= to_id``."""

    after_id: int
    to_id: int

    def describe(self) -> dict[str, Any]:
        """What the manifest records: the id range."""
        return {"source": "id_range", "id_range": {"after_id": self.after_id, "to_id": self.to_id}}

    def label(self) -> str:
        """``ids 101..200``, for logs."""
        return f"ids {self.after_id + 1}..{self.to_id}"


@dataclass(frozen=True)
class ParentIds:
    """The children of these parents (``order_ids``)."""

    ids: tuple[int, ...]

    def describe(self) -> dict[str, Any]:
        """What the manifest records: that the parents were given by id."""
        return {"source": "order_ids"}

    def label(self) -> str:
        """``of N orders``, for logs."""
        return f"of {len(self.ids)} orders"


@dataclass(frozen=True)
class Upstream:
    """The children of the parents in an upstream export (``orders_from``)."""

    uri: str

    def describe(self) -> dict[str, Any]:
        """What the manifest records: the upstream export's URI."""
        return {"source": f"orders_from {self.uri}"}

    def label(self) -> str:
        """``of the orders in <uri>``, for logs."""
        return f"of the orders in {self.uri}"


@dataclass(frozen=True)
class ParentsOf:
    """The children of the parents ``plan`` walks (a window or id range of orders)."""

    plan: Plan

    def describe(self) -> dict[str, Any]:
        """What the manifest records: the source of the parents."""
        return self.plan.source.describe()

    def label(self) -> str:
        """The label of the source of the parents, for logs."""
        return self.plan.source.label()


Source = WindowSource | IdRange | ParentIds | Upstream | ParentsOf
