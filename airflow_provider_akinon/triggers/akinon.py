"""The triggers: new orders since a date (the deferrable sensor's), and new orders by id (event scheduling)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from typing import Any

import orjson

from airflow_provider_akinon.compat import AIRFLOW_V3, AIRFLOW_VERSION, BaseTrigger, TriggerEvent
from airflow_provider_akinon.hooks.akinon import AkinonHook
from airflow_provider_akinon.resources import ORDERS
from airflow_provider_akinon.triggers.watermark import AssetStateWatermark, VariableWatermark, WatermarkStore


class AkinonNewOrdersTrigger(BaseTrigger):
    """
    Poll an Akinon list with GET until its ``count`` is at least one; fire one event.

    The event is ``{"status": "success", "count": N, "newest": <date of the newest>, "since": ...}`` or
    ``{"status": "error", "message": ...}`` when the API fails beyond the hook's retries. ``run()`` has no
    side effects, so a triggerer restart simply starts polling again.

    :param akinon_conn_id: the ``akinon`` connection.
    :param endpoint: the list to poll (``orders/``).
    :param params: its query: the ``{date_field}__gte`` filter, ``sort`` and ``limit=1``.
    :param date_field: the field whose newest value is reported.
    :param since: the lower bound, reported back as it was given.
    :param poll_interval: seconds between polls.
    """

    def __init__(
        self,
        *,
        akinon_conn_id: str,
        endpoint: str,
        params: dict[str, Any],
        date_field: str,
        since: str,
        poll_interval: float = 60.0,
    ) -> None:
        super().__init__()
        self.akinon_conn_id = akinon_conn_id
        self.endpoint = endpoint
        self.params = params
        self.date_field = date_field
        self.since = since
        self.poll_interval = poll_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Serialize the trigger's class path and arguments."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "akinon_conn_id": self.akinon_conn_id,
                "endpoint": self.endpoint,
                "params": self.params,
                "date_field": self.date_field,
                "since": self.since,
                "poll_interval": self.poll_interval,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll until the list counts a record; yield one success or error event."""
        hook = AkinonHook(akinon_conn_id=self.akinon_conn_id)
        polls = 0
        while True:
            polls += 1
            try:
                count, first = await hook.ahead(self.endpoint, self.params)
            except Exception as err:  # one error event, never a crashed trigger
                yield TriggerEvent({"status": "error", "message": str(err), "since": self.since})
                return
            if count:
                newest = (first or {}).get(self.date_field)
                yield TriggerEvent(
                    {
                        "status": "success",
                        "count": count,
                        "newest": newest,
                        "since": self.since,
                        "polls": polls,
                    }
                )
                return
            self.log.info(
                "No orders with %s >= %s yet; polling again in %ss",
                self.date_field,
                self.since,
                self.poll_interval,
            )
            await asyncio.sleep(self.poll_interval)


def __getattr__(name: str) -> Any:
    if name == "AkinonNewOrdersEventTrigger":  # only reached where the class is not defined below
        raise ImportError(
            "AkinonNewOrdersEventTrigger needs Airflow 3: event-driven scheduling (AssetWatcher, "
            f"BaseEventTrigger) does not exist in Airflow {AIRFLOW_VERSION}. Schedule akinon_daily_export "
            "instead, or upgrade to Airflow 3."
        )
    raise AttributeError(name)


if AIRFLOW_V3:
    from airflow.triggers.base import BaseEventTrigger

    class AkinonNewOrdersEventTrigger(BaseEventTrigger):
        """
        Fire when new orders exist: the trigger of an ``AssetWatcher`` (Airflow 3 event scheduling).

        It fires on a change, never on a standing condition: when orders with ``id`` above its watermark
        exist, one ``TriggerEvent`` ``{"after_id", "to_id", "count", "newest_created_date"}`` for the orders
        ``after_id < id <= to_id``, and the watermark moves to ``to_id``. The watermark persists in the
        watched asset's state store (a Variable where that store does not reach the trigger), so a
        restarted triggerer resumes where it stopped (see :mod:`~airflow_provider_akinon.triggers.watermark`
        for what a triggerer killed mid-event does). The first watermark is the newest order when
        the trigger first starts, or ``start_after_id``. Polls through the hook's async face (retries,
        re-login, ``Retry-After``); a poll that fails beyond them is logged and tried again at the next
        interval, since an event trigger that raised would stop watching.

        :param akinon_conn_id: the ``akinon`` connection.
        :param poll_interval: seconds between polls.
        :param start_after_id: the first watermark (orders above it fire); default: the newest order.
        :param filters: extra query parameters of the orders list, e.g. ``{"status": "400"}``.
        """

        def __init__(
            self,
            *,
            akinon_conn_id: str = AkinonHook.default_conn_name,
            poll_interval: float = 60.0,
            start_after_id: int | None = None,
            filters: dict[str, Any] | None = None,
        ) -> None:
            super().__init__()
            self.akinon_conn_id = akinon_conn_id
            self.poll_interval = poll_interval
            self.start_after_id = start_after_id
            self.filters = filters or {}

        def serialize(self) -> tuple[str, dict[str, Any]]:
            """Serialize the trigger's class path and arguments."""
            return (
                f"{type(self).__module__}.{type(self).__qualname__}",
                {
                    "akinon_conn_id": self.akinon_conn_id,
                    "poll_interval": self.poll_interval,
                    "start_after_id": self.start_after_id,
                    "filters": self.filters,
                },
            )

        def watermark(self) -> WatermarkStore:
            """The watched asset's state store where the triggerer provides it, else a Variable."""
            what = orjson.dumps([self.filters, self.start_after_id], option=orjson.OPT_SORT_KEYS)
            variable = VariableWatermark(
                f"akinon_new_orders__{self.akinon_conn_id}__{hashlib.sha1(what).hexdigest()[:8]}"
            )
            store = getattr(self, "asset_state_store", None)
            return AssetStateWatermark(store, variable) if store is not None else variable

        async def run(self) -> AsyncIterator[TriggerEvent]:
            """Poll for orders above the watermark; fire an event for each batch, saved as pending first."""
            hook, store = AkinonHook(akinon_conn_id=self.akinon_conn_id), self.watermark()
            state = await self._start(hook, store)
            while True:
                event = state.get("pending_event") or await self._poll(hook, int(state["after_id"]))
                if event and not state.get("pending_event"):  # saved before it is handed over
                    pending = {"after_id": state["after_id"], "pending_event": event}
                    state = pending if await self._save(store, pending) else state
                if event and state.get("pending_event"):
                    yield TriggerEvent(event)
                    done = {"after_id": event["to_id"], "pending_event": None}
                    if await self._save(store, done):
                        state = done
                        self.log.info("New orders %s..%s fired", event["after_id"] + 1, event["to_id"])
                await asyncio.sleep(self.poll_interval)

        async def _save(self, store: WatermarkStore, state: dict[str, Any]) -> bool:
            """Save the watermark; a failure is logged and the step tried again next poll (never raised)."""
            try:
                await store.save(state)
            except Exception as err:
                self.log.warning(
                    "Saving the watermark failed (%s); trying again in %ss", err, self.poll_interval
                )
                return False
            return True

        async def _newest(
            self, hook: AkinonHook, after_id: int | None
        ) -> tuple[int | None, dict[str, Any] | None]:
            """How many orders lie above ``after_id``, and the newest of them."""
            params: dict[str, Any] = {**self.filters, "sort": "-id"}
            if after_id is not None:
                params["id__gt"] = after_id
            return await hook.ahead(ORDERS.endpoint, params)

        async def _start(self, hook: AkinonHook, store: WatermarkStore) -> dict[str, Any]:
            while True:
                try:
                    state = await store.load()
                    break
                except Exception as err:
                    self.log.warning(
                        "Reading the watermark failed (%s); trying again in %ss", err, self.poll_interval
                    )
                    await asyncio.sleep(self.poll_interval)
            while state is None:
                after = self.start_after_id
                if after is None:
                    try:
                        _, newest = await self._newest(hook, None)
                    except Exception as err:
                        self.log.warning(
                            "Akinon not reachable (%s); trying again in %ss", err, self.poll_interval
                        )
                        await asyncio.sleep(self.poll_interval)
                        continue
                    after = int(newest["id"]) if newest else 0
                state = {"after_id": after, "pending_event": None}
                if not await self._save(store, state):
                    state = None
                    await asyncio.sleep(self.poll_interval)
            self.log.info("Watching orders of %s after id %s", self.akinon_conn_id, state["after_id"])
            return state

        async def _poll(self, hook: AkinonHook, after_id: int) -> dict[str, Any] | None:
            try:
                count, newest = await self._newest(hook, after_id)
            except Exception as err:  # the hook retried already; an event trigger must keep watching
                self.log.warning(
                    "Polling new orders failed (%s); polling again in %ss", err, self.poll_interval
                )
                return None
            if not count or newest is None:
                return None
            return {
                "after_id": after_id,
                "to_id": int(newest["id"]),
                "count": count,
                "newest_created_date": newest.get("created_date"),
            }
