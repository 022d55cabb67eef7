"""A month of daily partitions on S3 (moto's server), with what goes wrong injected, read back exactly."""

from __future__ import annotations

from datetime import date

import pytest

from airflow_provider_akinon.coverage.reader import read_coverage
from airflow_provider_akinon.hooks.akinon import AkinonHook
from airflow_provider_akinon.testing import AkinonData, FakeAkinonServer
from airflow_provider_akinon.testing.data import parse_ts
from tests.coverage.build import COMMIT, DAY, PLACE, Tenant, in_flight, midnight

MONTH = [date(2026, 1, 1) + DAY * n for n in range(31)]
MISSING, KILLED, STALE, CHANGED = date(2026, 1, 10), date(2026, 1, 20), date(2026, 1, 5), date(2026, 1, 15)


@pytest.fixture
def tenant(monkeypatch):
    """A month of orders, ten a day; ``akinon_default`` points at it."""
    with FakeAkinonServer(AkinonData(orders=310, start="2026-01-01", days=31)) as server:
        monkeypatch.setenv("AIRFLOW_CONN_AKINON_DEFAULT", server.connection_json())
        yield server


def test_a_month_on_s3_is_read_day_by_day_exactly(tenant, s3_dest):
    """A missing day, a day left by a killed run, a stale lease over an export, a day changed since: each
    read as what it is; the drift is the orders changed; the requests stay within the concurrency."""
    days = Tenant(tenant, f"{s3_dest}/akinon/orders")
    days.export(midnight(MONTH[0]), midnight(MONTH[1]))
    days.publish_all([midnight(d) for d in MONTH[1:] if d not in (MISSING, KILLED)], DAY)
    killed = days.publish(midnight(KILLED), midnight(KILLED) + DAY, kill_at=PLACE).token
    stale = days.publish(midnight(STALE), midnight(STALE) + DAY, kill_at=COMMIT).token
    since = parse_ts(days.manifest(midnight(CHANGED), midnight(CHANGED) + DAY, 0)["created_at"])
    changed = tenant.data.order_ids("created_date", midnight(CHANGED).timestamp(), since)[:2]
    for order in changed:
        tenant.data.modify_order(order, modified=since + 1, status="500")
    with in_flight(tenant, latency=0.003) as most:
        coverage = read_coverage(
            s3_dest, today=date(2026, 2, 1), hook=AkinonHook("akinon_default"),
            lease_timeout=0.0,  # S3 dates objects now: a run whose staging was written before this read stopped
        )  # fmt: skip
    assert [d.day for d in coverage.days] == MONTH
    by_day = {d.day: d for d in coverage.days}
    assert {d.day: d.state for d in coverage.days if d.state != "exported"} == {
        MISSING: "missing", KILLED: "failed", STALE: "failed", CHANGED: "drifted"
    }  # fmt: skip
    assert any(f"held by run {killed}" in d for d in by_day[KILLED].details)
    assert any(f"stuck intent: run {stale}" in d for d in by_day[STALE].details)
    assert by_day[STALE].version == 1
    assert by_day[STALE].records == 10
    assert by_day[CHANGED].changed == len(changed) == sum(d.changed or 0 for d in coverage.days)
    assert by_day[MONTH[3]].uri == f"{s3_dest}/akinon/orders/date=2026-01-04/"
    assert 2 <= most() <= 4
