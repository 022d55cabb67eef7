"""AkinonNewOrdersSensor in poke, reschedule and deferrable modes, against the fake server."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from airflow.providers.common.compat.sdk import (
    AirflowSensorTimeout,
    AirflowSkipException,
    TaskDeferred,
)

from airflow_provider_akinon.errors import AkinonApiError, WindowError
from airflow_provider_akinon.sensors.akinon import AkinonNewOrdersSensor
from airflow_provider_akinon.testing.data import parse_ts
from airflow_provider_akinon.triggers.akinon import AkinonNewOrdersTrigger

AFTER_DATA = "2026-01-05T00:00:00Z"  # the fake tenant's orders end on 2026-01-04


def sensor(**kwargs):
    return AkinonNewOrdersSensor(task_id="wait", **{"poke_interval": 0, "timeout": 0, **kwargs})


def test_poke_succeeds_with_a_small_xcom(akinon_default):
    context = {"data_interval_start": datetime(2026, 1, 2, tzinfo=UTC)}
    result = sensor(mode="poke").execute(context)
    assert result["count"] == len(akinon_default.data.order_ids("created_date", parse_ts("2026-01-02")))
    assert result["since"] == "2026-01-02T00:00:00.000000Z"
    assert result["newest"].startswith("2026-01-03")


def test_poke_times_out_and_soft_fail_skips(akinon_default):
    with pytest.raises(AirflowSensorTimeout):
        sensor(since=AFTER_DATA).execute({})
    with pytest.raises(AirflowSkipException):
        sensor(since=AFTER_DATA, soft_fail=True).execute({})


def test_filters_are_applied(akinon_default):
    result = sensor(since="2026-01-01", filters={"status": "600"}).execute({})
    assert result["count"] == akinon_default.data.status.count("600")


def test_reschedule_mode_gives_the_slot_back(akinon_default, airflow_db):
    class TI:  # what reschedule mode reads of its task instance, on Airflow 3 and 2
        dag_id, task_id, run_id, map_index, max_tries = "d", "wait", "r", -1, 0

        def get_first_reschedule_date(self, context):
            return None

    try:
        from airflow.sdk.exceptions import AirflowRescheduleException
    except ImportError:  # Airflow 2
        from airflow.exceptions import AirflowRescheduleException

    op = AkinonNewOrdersSensor(
        task_id="wait", since=AFTER_DATA, mode="reschedule", poke_interval=30, timeout=3600
    )
    with pytest.raises(AirflowRescheduleException):
        op.execute({"ti": TI()})
    assert sensor(since="2026-01-03", mode="reschedule").execute({"ti": TI()})["count"] > 0


def test_missing_since_is_a_clear_error(akinon_default):
    with pytest.raises(WindowError, match="has no 'since'"):
        sensor().execute({})
    assert akinon_default.log.requests == 0


def test_deferrable_checks_once_then_defers_with_a_serializable_trigger(akinon_default):
    op = sensor(since=AFTER_DATA, deferrable=True, poke_interval=5, timeout=600)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({})
    trigger = deferred.value.trigger
    assert isinstance(trigger, AkinonNewOrdersTrigger)
    assert deferred.value.method_name == "execute_complete"
    path, kwargs = trigger.serialize()
    assert path == "airflow_provider_akinon.triggers.akinon.AkinonNewOrdersTrigger"
    import json

    rebuilt = AkinonNewOrdersTrigger(**json.loads(json.dumps(kwargs)))
    assert rebuilt.serialize() == (path, kwargs)
    assert kwargs["params"]["created_date__gte"] == "2026-01-05T00:00:00.000000Z"
    # with orders already there, the deferrable sensor never defers
    assert sensor(since="2026-01-02", deferrable=True).execute({})["count"] > 0


def test_trigger_waits_while_no_order_exists_and_fires_once_orders_arrive(akinon_default):
    server = akinon_default
    trigger = AkinonNewOrdersTrigger(
        akinon_conn_id="akinon_default",
        endpoint="orders/",
        params={"created_date__gte": "2026-01-05T00:00:00.000000Z", "sort": "-created_date", "limit": 1},
        date_field="created_date",
        since="2026-01-05T00:00:00.000000Z",
        poll_interval=0.01,
    )

    async def scenario():
        events = trigger.run()
        task = asyncio.ensure_future(events.__anext__())
        while sum("/orders/" in p for p in server.log.paths) < 3:  # it polled, and found nothing
            assert not task.done()
            await asyncio.sleep(0.01)
        new_id = server.data.insert_order(created=parse_ts("2026-01-05T08:00:00"))
        event = await asyncio.wait_for(task, timeout=30)
        return event, new_id

    event, new_id = asyncio.run(scenario())
    assert event.payload["status"] == "success"
    assert event.payload["count"] == 1
    assert event.payload["newest"] == server.data.order(new_id)["created_date"]
    assert event.payload["polls"] >= 3


def test_trigger_retries_then_reports_errors_as_one_event(akinon_default, monkeypatch):
    server = akinon_default
    server.faults.error_every = 2
    server.faults.throttle_every = 3
    server.faults.retry_after = "0"
    trigger = AkinonNewOrdersTrigger(
        akinon_conn_id="akinon_default",
        endpoint="orders/",
        params={"created_date__gte": "2026-01-02T00:00:00.000000Z", "limit": 1},
        date_field="created_date",
        since="2026-01-02",
    )

    async def first_event(trig):
        return await trig.run().__anext__()

    assert asyncio.run(first_event(trigger)).payload["status"] == "success"
    server.faults.throttle_every = 0
    server.faults.error_every = 1
    event = asyncio.run(first_event(trigger))
    assert event.payload["status"] == "error"
    assert "failed after" in event.payload["message"]
    op = sensor(since="2026-01-02", deferrable=True)
    with pytest.raises(AkinonApiError, match="failed in the triggerer"):
        op.execute_complete({}, event.payload)


def test_trigger_logs_in_again_after_revocation(akinon_default):
    server = akinon_default
    trigger = AkinonNewOrdersTrigger(
        akinon_conn_id="akinon_default",
        endpoint="orders/",
        params={"limit": 1},
        date_field="created_date",
        since="2026-01-01",
    )
    server.faults.revoke_every = 1
    server.api_token = "unused"

    async def first_event():
        return await trigger.run().__anext__()

    event = asyncio.run(first_event())
    assert event.payload["status"] == "error"
    assert "keep being rejected" in event.payload["message"]
    assert server.log.logins == 4
