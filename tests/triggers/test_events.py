"""AkinonNewOrdersEventTrigger: fires on new ids only, keeps its watermark across restarts, never dies."""

from __future__ import annotations

import asyncio
import json

import pytest

from airflow_provider_akinon.compat import AIRFLOW_V3
from airflow_provider_akinon.testing.data import parse_ts

if not AIRFLOW_V3:
    pytest.skip(
        "event-driven scheduling (AssetWatcher, BaseEventTrigger) needs Airflow 3", allow_module_level=True
    )

from airflow_provider_akinon.triggers.akinon import AkinonNewOrdersEventTrigger


class AssetState:
    """What the 3.3 triggerer hands an event trigger for its one watched asset: aget/aset, kept here."""

    def __init__(self) -> None:
        self.values: dict = {}

    async def aget(self, key, default=None):
        return self.values.get(key, default)

    async def aset(self, key, value):
        self.values[key] = json.loads(json.dumps(value))  # JSON, as the store keeps it


def trigger(state: AssetState, **kwargs) -> AkinonNewOrdersEventTrigger:
    made = AkinonNewOrdersEventTrigger(poll_interval=0.01, **kwargs)
    made.asset_state_store = state
    return made


async def first_event(made, before=None):
    """
    Run the trigger until it fires, then let it go on as the triggerer does (it records the event when
    asked for the next one); ``before`` runs once the trigger is watching (orders to insert).
    """
    state = made.asset_state_store.values
    events = made.run()
    task = asyncio.ensure_future(events.__anext__())
    while not task.done() and "akinon_new_orders" not in state:
        await asyncio.sleep(0.01)
    if before:
        before()
    event = await asyncio.wait_for(task, timeout=30)
    following = asyncio.ensure_future(events.__anext__())
    while state["akinon_new_orders"]["pending_event"] is not None:
        await asyncio.sleep(0.01)
    following.cancel()
    return event.payload


def test_serialize_round_trip():
    made = AkinonNewOrdersEventTrigger(
        akinon_conn_id="c", poll_interval=5, start_after_id=7, filters={"status": "400"}
    )
    path, kwargs = made.serialize()
    assert path == "airflow_provider_akinon.triggers.akinon.AkinonNewOrdersEventTrigger"
    assert AkinonNewOrdersEventTrigger(**json.loads(json.dumps(kwargs))).serialize() == (path, kwargs)


def test_fires_once_per_new_id_range_and_never_on_a_standing_condition(akinon_default):
    server, state = akinon_default, AssetState()
    newest = server.data.ids[-1]
    inserted = []
    event = asyncio.run(
        first_event(trigger(state), lambda: inserted.extend(server.data.insert_order() for _ in range(3)))
    )
    assert event == {
        "after_id": newest,
        "to_id": inserted[-1],
        "count": 3,
        "newest_created_date": server.data.order(inserted[-1])["created_date"],
    }
    assert state.values["akinon_new_orders"] == {"after_id": inserted[-1], "pending_event": None}

    # a restarted trigger (a new instance, the same store) does not fire the same orders again
    async def quiet():
        events = trigger(state).run()
        task = asyncio.ensure_future(events.__anext__())
        polls_before = len(server.log.paths)
        while len(server.log.paths) < polls_before + 5:  # it polled several times over existing orders
            assert not task.done()
            await asyncio.sleep(0.01)
        task.cancel()

    asyncio.run(quiet())
    later = []
    event = asyncio.run(first_event(trigger(state), lambda: later.append(server.data.insert_order())))
    assert (event["after_id"], event["to_id"], event["count"]) == (inserted[-1], later[0], 1)


def test_start_after_id_and_a_pending_event_fired_again_with_the_same_range(akinon_default):
    state = AssetState()
    event = asyncio.run(first_event(trigger(state, start_after_id=490)))
    assert (event["after_id"], event["to_id"], event["count"]) == (490, 500, 10)
    # a triggerer that died after handing the event over, before recording it, fires it again: same range
    state.values["akinon_new_orders"] = {"after_id": 490, "pending_event": event}
    assert asyncio.run(first_event(trigger(state))) == event


def test_an_api_failure_is_logged_and_the_trigger_keeps_watching(akinon_default, monkeypatch):
    server, state = akinon_default, AssetState()
    monkeypatch.setenv("AIRFLOW_CONN_AKINON_DEFAULT", server.connection_json(max_retries=0))
    state.values["akinon_new_orders"] = {"after_id": server.data.ids[-1], "pending_event": None}
    server.faults.error_every = 1  # every poll fails beyond its retries

    def recover():
        server.data.insert_order(created=parse_ts("2026-01-05T00:00:00"))
        server.faults.error_every = 0

    async def scenario():
        made = trigger(state)
        events = made.run()
        task = asyncio.ensure_future(events.__anext__())
        while server.log.faults.get("5xx", 0) < 3:  # three failed polls, and still running
            assert not task.done()
            await asyncio.sleep(0.01)
        recover()
        return (await asyncio.wait_for(task, timeout=30)).payload

    assert asyncio.run(scenario())["count"] == 1
