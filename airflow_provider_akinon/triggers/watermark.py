"""Where the new-orders event trigger keeps its watermark: Airflow 3.3's asset state store, or a Variable.

The state is ``{"after_id": N, "pending_event": {...} | None}``: orders with ``id <= N`` have fired. Before an
event is handed to Airflow it is saved as pending; once handed over, ``after_id`` moves to its ``to_id``.
A triggerer that dies in between fires that same pending event again when it restarts, with the same id
range: the export of a range rewrites the same partition. One that dies after handing the event over but
before Airflow stored it loses that event: the example DAG closes that gap by exporting from the last id
it exported, so the next event's run covers the lost range.

Why the asset state store first: it lives with the watched asset in Airflow's metadata DB, survives
triggerer restarts, needs no name of ours, and the triggerer hands it to the trigger (Airflow 3.3+). A
trigger that watches several assets, or an Airflow without the store, keeps the watermark in a Variable
named after the connection instead.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

KEY = "akinon_new_orders"


class WatermarkStore(Protocol):
    """Where the event trigger keeps its state: loaded once at start, saved at every step."""

    async def load(self) -> dict[str, Any] | None:
        """The saved state (``None``: none saved yet)."""
        ...

    async def save(self, state: dict[str, Any]) -> None:
        """Save ``state``, replacing the previous one."""
        ...


class AssetStateWatermark:
    """
    The state store of the watched asset (injected into event triggers by the 3.3 triggerer); ``fallback``
    when the trigger watches several assets (the store then wants an asset to be named).
    """

    def __init__(self, accessors: Any, fallback: WatermarkStore) -> None:
        self.store: Any = accessors
        self.fallback = fallback

    async def load(self) -> dict[str, Any] | None:
        """The state in the asset's store (``fallback``'s where the store wants an asset named)."""
        try:
            state = await self.store.aget(KEY)
        except ValueError:  # several watched assets
            self.store = self.fallback
            return await self.fallback.load()
        return state if isinstance(state, dict) and "after_id" in state else None

    async def save(self, state: dict[str, Any]) -> None:
        """Save ``state`` into the asset's store, or into ``fallback`` once :meth:`load` chose it."""
        await (self.store.save(state) if self.store is self.fallback else self.store.aset(KEY, state))


class VariableWatermark:
    """An Airflow Variable holding the state as JSON."""

    def __init__(self, key: str) -> None:
        self.key = key

    async def load(self) -> dict[str, Any] | None:
        """The state in the Variable (``None``: unset, or not a state)."""
        from airflow_provider_akinon.compat import get_variable

        state = await asyncio.to_thread(get_variable, self.key, deserialize_json=True)
        return state if isinstance(state, dict) and "after_id" in state else None

    async def save(self, state: dict[str, Any]) -> None:
        """Write ``state`` into the Variable as JSON."""
        from airflow_provider_akinon.compat import Variable

        await asyncio.to_thread(Variable.set, self.key, state, serialize_json=True)
