"""Hours roll up to days: a day is exported when its hours cover it; a failed hour fails its day."""

from __future__ import annotations

from datetime import date

import pytest

from airflow_provider_akinon.coverage.reader import read_coverage
from airflow_provider_akinon.hooks.akinon import AkinonHook
from airflow_provider_akinon.testing import AkinonData, FakeAkinonServer
from airflow_provider_akinon.testing.data import parse_ts
from tests.coverage.build import DAY, HOUR, PLACE, Tenant, age, midnight

DAYS = [date(2026, 1, 1) + DAY * n for n in range(3)]


@pytest.fixture
def tenant(monkeypatch):
    """Three days of orders; ``akinon_default`` points at it."""
    with FakeAkinonServer(AkinonData(orders=720, start="2026-01-01", days=3)) as server:
        monkeypatch.setenv("AIRFLOW_CONN_AKINON_DEFAULT", server.connection_json())
        yield server


def hours(day: date, skip: tuple[int, ...] = ()) -> list:
    """The starts of ``day``'s hours but ``skip``."""
    return [midnight(day) + HOUR * h for h in range(24) if h not in skip]


def test_the_changes_feed_rolls_up_to_days_and_is_not_asked_for_drift(tenant, tmp_path):
    """Hourly modified_date partitions: a day whole, a day with two hours missing, a day with a failed hour.
    Their drift is not asked (a later change lands in a later hour), said once for every day."""
    feed = Tenant(tenant, f"{tmp_path}/akinon/changes/orders", date_field="modified_date")
    feed.export(midnight(DAYS[0]), midnight(DAYS[0]) + HOUR, hourly=True)
    feed.publish_all(
        hours(DAYS[0])[1:] + hours(DAYS[1], skip=(5, 6)) + hours(DAYS[2], skip=(10,)), HOUR, hourly=True
    )
    stopped = feed.publish(
        midnight(DAYS[2]) + 10 * HOUR, midnight(DAYS[2]) + 11 * HOUR, hourly=True, kill_at=PLACE
    )
    age(feed.root, midnight(DAYS[2]) + 10 * HOUR, stopped.token, hourly=True)
    coverage = read_coverage(
        f"{tmp_path}/akinon/changes", today=date(2026, 1, 4), hook=AkinonHook("akinon_default")
    )
    assert [(d.day, d.state, d.partitions) for d in coverage.days] == [
        (DAYS[0], "exported", 24), (DAYS[1], "missing", 22), (DAYS[2], "failed", 24)
    ]  # fmt: skip
    assert coverage.days[1].details == ["not exported: 05:00-07:00"]
    assert (
        coverage.days[2]
        .details[0]
        .startswith(f"hour=2026-01-03T10: the lease is held by run {stopped.token}")
    )
    orders = tenant.data.order_ids("modified_date", parse_ts("2026-01-01"), parse_ts("2026-01-02"))
    assert coverage.days[0].records == len(orders)
    assert coverage.notes == [
        "drift not asked: a modified_date window (the changes feed: a later change lands in a later window)"
    ]
    assert coverage.asked == 0
    assert all(d.changed is None for d in coverage.days)


def test_hourly_created_date_partitions_are_asked_hour_by_hour(tenant, tmp_path):
    """Hourly created_date partitions (partition_by='PT1H'): each hour asked, the day's drift their sum."""
    root = f"{tmp_path}/orders"
    day = Tenant(tenant, root)
    day.export(midnight(DAYS[1]), midnight(DAYS[1]) + HOUR, hourly=True)
    day.publish_all(hours(DAYS[1])[1:], HOUR, hourly=True)
    since = parse_ts(
        day.manifest(midnight(DAYS[2]) - HOUR, midnight(DAYS[2]), 0)["created_at"]
    )  # the last hour's
    changed = [
        o
        for h in (3, 17)
        for o in tenant.data.order_ids("created_date", parse_ts(f"2026-01-02T{h:02d}:00:00Z"))[:1]
    ]
    for order in changed:
        tenant.data.modify_order(order, modified=since + 3600)
    hook = AkinonHook("akinon_default")
    (coverage_day,) = read_coverage(root, first=DAYS[1], last=DAYS[1], today=DAYS[2], hook=hook).days
    assert (coverage_day.state, coverage_day.changed, coverage_day.partitions) == ("drifted", 2, 24)
    assert coverage_day.count_now == coverage_day.records == 240
    assert coverage_day.details == ["2 changed since the export"]


def test_a_day_before_its_end_is_not_due_and_an_unreadable_lease_fails_its_day(tenant, tmp_path):
    """Today and later are not due, whatever is there; a lease this provider did not write fails its day, named."""
    days = Tenant(tenant, str(tmp_path))
    days.export(midnight(DAYS[0]), midnight(DAYS[1]))
    days.publish(midnight(DAYS[1]), midnight(DAYS[2]))
    (tmp_path / "date=2026-01-02" / "_akinon" / "lease.json").write_text("{}")
    coverage = read_coverage(str(tmp_path), last=DAYS[2], today=DAYS[2])
    assert [d.state for d in coverage.days] == ["exported", "failed", "not_due"]
    assert "is not a publish lease this provider wrote" in coverage.days[1].details[0]
    assert coverage.days[2].details == ["not due: the day has not ended"]
