"""A year of daily partitions on a disk, with what goes wrong injected, read back day by day exactly."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from airflow_provider_akinon.coverage.reader import read_coverage
from airflow_provider_akinon.hooks.akinon import AkinonHook
from airflow_provider_akinon.testing import AkinonData, FakeAkinonServer
from airflow_provider_akinon.testing.data import parse_ts
from tests.coverage.build import ACQUIRE, COMMIT, DAY, INTENT, PLACE, POINT, Tenant, age, in_flight, midnight

YEAR = [date(2026, 1, 1) + DAY * n for n in range(365)]
TODAY = date(2026, 12, 31)  # the last day of the year is not due
MISSING, WALKING, KILLED, LIVE = date(2026, 3, 10), date(2026, 4, 2), date(2026, 4, 20), date(2026, 7, 1)
STUCK_INTENT, HELD, STUCK_COMMIT = date(2026, 5, 5), date(2026, 5, 6), date(2026, 5, 7)
CHANGED, INSERTED, DELETED = date(2026, 6, 15), date(2026, 8, 3), date(2026, 9, 9)
SPECIAL = {MISSING, WALKING, KILLED, LIVE, TODAY}


@pytest.fixture(scope="module")
def tenant():
    """A year of orders, ten a day (ids ascending with created_date); ``akinon_default`` points at it."""
    with (
        FakeAkinonServer(AkinonData(orders=3650, start="2026-01-01", days=365)) as server,
        pytest.MonkeyPatch.context() as patch,
    ):
        patch.setenv("AIRFLOW_CONN_AKINON_DEFAULT", server.connection_json())
        yield server


@pytest.fixture(scope="module")
def year(tenant, tmp_path_factory):
    """The year exported under ``<root>/akinon/orders/``, then the injected states. Returns the root and
    what the injections need to be checked by (run tokens, the orders changed)."""
    root = str(tmp_path_factory.mktemp("lake"))
    days = Tenant(tenant, f"{root}/akinon/orders")
    days.export(midnight(YEAR[0]), midnight(YEAR[1]))  # the first day by the operator: the template
    days.publish_all([midnight(d) for d in YEAR[1:] if d not in SPECIAL], DAY)
    runs = {}
    for day, kill_at in ((WALKING, ACQUIRE), (KILLED, PLACE)):  # no manifest: staging (and the lease) left
        runs[day] = days.publish(midnight(day), midnight(day) + DAY, kill_at=kill_at).token
    for day, kill_at in ((STUCK_INTENT, COMMIT), (HELD, INTENT), (STUCK_COMMIT, POINT)):  # a second run of it
        runs[day] = days.publish(midnight(day), midnight(day) + DAY, kill_at=kill_at).token
    for day, token in runs.items():
        age(days.root, midnight(day), token)
    live = days.target(midnight(LIVE))  # a run exporting now: its heartbeat beats
    data = tenant.data
    since = {
        d: parse_ts(days.manifest(midnight(d), midnight(d) + DAY, 0)["created_at"])
        for d in (CHANGED, INSERTED)
    }
    changed = data.order_ids(
        "created_date", midnight(CHANGED).timestamp(), (midnight(CHANGED) + DAY).timestamp()
    )[:3]
    for order in changed:
        data.modify_order(order, modified=since[CHANGED] + 60, status="550")
    data.insert_order(
        created=midnight(INSERTED).timestamp() + 600, modified=midnight(INSERTED).timestamp() + 700
    )
    data.delete_order(data.order_ids("created_date", midnight(DELETED).timestamp())[0], at=since[INSERTED])
    yield root, runs, changed, live
    live.close()


def test_a_year_on_disk_is_read_day_by_day_exactly(year, tenant):
    """Each injected state is read as what it is; every other day is exported; drift counts what changed."""
    root, runs, changed, _ = year
    with in_flight(tenant, latency=0.003) as most:  # requests overlap: the concurrency is seen, not assumed
        coverage = read_coverage(
            root, last=date(2026, 12, 31), today=TODAY, hook=AkinonHook("akinon_default")
        )
    by_day = {day.day: day for day in coverage.days}
    assert [day.day for day in coverage.days] == YEAR
    states = {day.day: day.state for day in coverage.days if day.state != "exported"}
    assert states == {
        MISSING: "missing", WALKING: "failed", KILLED: "failed", LIVE: "missing", STUCK_INTENT: "failed",
        STUCK_COMMIT: "failed", CHANGED: "drifted", INSERTED: "drifted", DELETED: "drifted", TODAY: "not_due",
    }  # fmt: skip
    assert by_day[MISSING].details == ["no partition"]
    assert by_day[WALKING].details == [f"staging left by stopped run {runs[WALKING]}"]
    assert by_day[KILLED].records is None
    assert any(f"lease is held by run {runs[KILLED]}" in d for d in by_day[KILLED].details)
    assert any(d.startswith("stuck intent") for d in by_day[KILLED].details)
    assert any(d.startswith("stuck intent") for d in by_day[STUCK_INTENT].details)
    assert by_day[STUCK_INTENT].version == 1  # what readers read: the first export, whole
    assert any(d.startswith("stuck commit: version 2") for d in by_day[STUCK_COMMIT].details)
    assert by_day[HELD].state == "exported"
    assert by_day[HELD].details == [
        f"the lease is held by run {runs[HELD]}, which stopped (the next run takes it over)"
    ]
    assert by_day[LIVE].details[0].endswith("is exporting it now")
    assert (by_day[CHANGED].changed, by_day[CHANGED].count_now, by_day[CHANGED].records) == (
        len(changed),
        10,
        10,
    )
    assert (by_day[INSERTED].changed, by_day[INSERTED].count_now) == (0, 11)
    assert (by_day[DELETED].changed, by_day[DELETED].count_now) == (0, 9)
    asked = [day for day in coverage.days if day.changed is not None]
    assert sum(day.changed for day in asked) == len(changed)  # the drift is the tenant's changes, exactly
    assert len(asked) == 365 - len(SPECIAL) - 2  # every exported day, and only those
    assert coverage.asked == 1 + 3 + 2 * len(asked)  # the login, the filters checked, two counted a day
    assert 2 <= most() <= 4  # within the connection's concurrency (the default, 4), and used


def test_a_year_read_from_storage_only(year):
    """Without a hook nothing is asked: the same states, drift unknown; the first day of a root is its first
    partition's, the last yesterday's."""
    root, *_ = year
    coverage = read_coverage(root, resource="orders", today=TODAY)
    assert (coverage.days[0].day, coverage.days[-1].day) == (YEAR[0], date(2026, 12, 30))
    assert (coverage.uri, coverage.resource) == (f"file://{root}/akinon/orders/", "orders")
    assert {d.state for d in coverage.days} == {"exported", "missing", "failed"}
    assert all(d.changed is None for d in coverage.days)
    assert coverage.asked == 0
    first = coverage.days[0]
    assert (first.records, first.version, first.provider_version, first.partitions) == (10, 1, "0.4.0", 1)
    assert datetime.fromisoformat(first.exported_at) > datetime.fromisoformat(
        "2026-12-01T00:00:00Z"
    )  # a real run


@pytest.mark.parametrize("limit", [1, 2])
def test_the_requests_in_flight_stay_within_max_concurrency(year, tenant, limit):
    """Whatever the limit, never more requests at once than it allows."""
    root, *_ = year
    with in_flight(tenant, latency=0.002) as most:
        coverage = read_coverage(
            f"{root}/akinon/orders", first=date(2026, 10, 1), last=date(2026, 10, 31), today=TODAY,
            hook=AkinonHook("akinon_default"), max_concurrency=limit,
        )  # fmt: skip
    assert {d.state for d in coverage.days} == {"exported"}
    assert most() == limit
