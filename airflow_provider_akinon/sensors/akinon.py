"""AkinonNewOrdersSensor: wait until orders with a date at or after ``since`` exist."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_akinon.compat import BaseSensorOperator, PokeReturnValue, conf
from airflow_provider_akinon.hooks.akinon import AkinonApiError, AkinonHook
from airflow_provider_akinon.resources import ORDERS
from airflow_provider_akinon.timestamps import api_time
from airflow_provider_akinon.triggers.akinon import AkinonNewOrdersTrigger
from airflow_provider_akinon.windows import WindowError, to_datetime

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context


class AkinonNewOrdersSensor(BaseSensorOperator):
    """
    Succeed when at least one order has ``date_field >= since`` (and matches ``filters``).

    Works in ``poke`` and ``reschedule`` modes, and deferrable: one cheap check on the worker, then
    :class:`~airflow_provider_akinon.triggers.akinon.AkinonNewOrdersTrigger` polls in the triggerer.
    Returns ``{"count": ..., "newest": ..., "since": ...}`` as XCom.

    :param akinon_conn_id: the ``akinon`` connection. (templated)
    :param since: lower bound (ISO string or datetime); default: the run's data interval start. Pass
        ``"{{ data_interval_end }}"`` to wait until an order arrives after the window closed. (templated)
    :param date_field: ``created_date``, ``modified_date`` or ``date_placed``. (templated)
    :param filters: extra query parameters, e.g. ``{"status": "400"}``. (templated)
    :param deferrable: defer to the triggerer between checks; default ``[operators] default_deferrable``.
    """

    template_fields: Sequence[str] = ("akinon_conn_id", "since", "date_field", "filters")
    template_fields_renderers = {"filters": "json"}
    ui_color = "#e9d7ff"

    def __init__(
        self,
        *,
        akinon_conn_id: str = AkinonHook.default_conn_name,
        since: Any = None,
        date_field: str = "created_date",
        filters: dict[str, Any] | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.akinon_conn_id = akinon_conn_id
        self.since = since
        self.date_field = date_field
        self.filters = filters
        self.deferrable = deferrable

    @cached_property
    def hook(self) -> AkinonHook:
        """The hook of ``akinon_conn_id``."""
        return AkinonHook(akinon_conn_id=self.akinon_conn_id)

    def _since(self, context: Context) -> str:
        ORDERS.check_date_field(self.date_field)
        since = self.since if self.since not in (None, "") else context.get("data_interval_start")
        if since is None:
            raise WindowError(
                "AkinonNewOrdersSensor has no 'since': pass since= or run it in a DAG run with a data interval."
            )
        return api_time(to_datetime(since, "since"))

    def _query(self, since: str) -> dict[str, Any]:
        return {
            **(self.filters or {}),
            f"{self.date_field}__gte": since,
            self.hook.config.sort_param: f"-{self.date_field}",
            self.hook.config.size_param: 1,
        }

    def poke(self, context: Context) -> PokeReturnValue:
        """Count the orders at or after ``since`` (and find the newest); done when there is one."""
        since = self._since(context)
        count, first = self.hook.head(ORDERS.endpoint, self._query(since))
        newest = first.get(self.date_field) if first else None
        self.log.info("%d order(s) with %s >= %s (newest %s)", count, self.date_field, since, newest)
        return PokeReturnValue(bool(count), {"count": count, "newest": newest, "since": since})

    def execute(self, context: Context) -> Any:
        """Poke; when deferrable, check once here, then defer to the triggerer."""
        if not self.deferrable:
            return super().execute(context)
        first = self.poke(context)
        if first.is_done:
            return first.xcom_value
        since = (first.xcom_value or {})["since"]
        self.defer(
            trigger=AkinonNewOrdersTrigger(
                akinon_conn_id=self.akinon_conn_id,
                endpoint=ORDERS.endpoint,
                params=self._query(since),
                date_field=self.date_field,
                since=since,
                poll_interval=float(self.poke_interval),
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """Return the trigger's result; raise on an error event (``soft_fail`` turns it into a skip)."""
        if event.get("status") != "success":
            raise AkinonApiError(f"AkinonNewOrdersSensor failed in the triggerer: {event.get('message')}")
        self.log.info("%d order(s) with %s >= %s", event["count"], self.date_field, event["since"])
        return {"count": event["count"], "newest": event["newest"], "since": event["since"]}
