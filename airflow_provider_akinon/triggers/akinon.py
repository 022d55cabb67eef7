"""AkinonNewOrdersTrigger: async polling, in the triggerer, until new orders exist."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow_provider_akinon.compat import BaseTrigger, TriggerEvent
from airflow_provider_akinon.hooks.akinon import AkinonHook


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
        hook = AkinonHook(akinon_conn_id=self.akinon_conn_id)
        polls = 0
        while True:
            polls += 1
            try:
                body = await hook.aget(self.endpoint, self.params)
            except Exception as err:  # one error event, never a crashed trigger
                yield TriggerEvent({"status": "error", "message": str(err), "since": self.since})
                return
            count = int(body.get("count", 0))
            if count:
                newest = (body.get("results") or [{}])[0].get(self.date_field)
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
