"""The drift is asked only where its answer means what it says: filters the tenant ignores are found, not counted."""

from __future__ import annotations

from datetime import date

import pytest

from airflow_provider_akinon.coverage.drift import ask_all, unaskable
from airflow_provider_akinon.coverage.reader import read_coverage
from airflow_provider_akinon.errors import AkinonApiError, AkinonConfigError
from airflow_provider_akinon.exports.commit.storage import read_manifest
from airflow_provider_akinon.hooks.akinon import AkinonHook
from tests.coverage.build import DAY, Tenant, midnight

DAYS = [date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 3)]
HOST = "https://acme.omnitron.akinon.net"
WINDOW = {"start": "2026-01-01T00:00:00.000000Z", "end": "2026-01-02T00:00:00.000000Z"}
MANIFEST = {
    "resource": "orders",
    "host": HOST,
    "source": "window",
    "window": WINDOW,
    "date_field": "created_date",
}


@pytest.fixture
def root(akinon_default, tmp_path):
    """Three days of the ``server`` fixture's tenant, exported."""
    days = Tenant(akinon_default, str(tmp_path))
    days.export(midnight(DAYS[0]), midnight(DAYS[1]))
    for day in DAYS[1:]:
        days.publish(midnight(day), midnight(day) + DAY)
    return str(tmp_path)


@pytest.mark.parametrize(
    ("ignored", "value"),
    [
        ("created_date__gte", "2999-01-01T00:00:00.000000Z"),
        ("created_date__lt", "1970-01-02T00:00:00.000000Z"),
        ("modified_date__gt", "2999-01-01T00:00:00.000000Z"),
    ],
)
def test_a_filter_the_tenant_ignores_is_found_not_counted(akinon_default, root, ignored, value):
    """DRF drops a filter it does not know and counts the rest: a question no record answers finds it, asked
    once; no window is counted, no day drifted."""
    akinon_default.api.ignore_params = frozenset({ignored})
    before = akinon_default.log.requests
    coverage = read_coverage(root, last=DAYS[-1], today=date(2026, 1, 4), hook=AkinonHook("akinon_default"))
    said = f"cannot tell: the tenant ignores {ignored} (500 records for {ignored}={value})"
    assert [(d.state, d.changed, d.count_now, d.details) for d in coverage.days] == [
        ("exported", None, None, [said])
    ] * 3
    asked = {"created_date__gte": 1, "created_date__lt": 2, "modified_date__gt": 3}[ignored]
    assert akinon_default.log.requests - before == 1 + asked  # the login, the questions up to the one failed


def test_what_cannot_be_asked_says_why():
    """Not a window, no version field, the changes feed, filters the export found ignored, another tenant."""
    assert unaskable(MANIFEST, HOST) is None
    reasons = [
        unaskable({**MANIFEST, "source": "orders_from file:///x/"}, HOST),
        unaskable({**MANIFEST, "resource": "not_registered"}, HOST),
        unaskable({**MANIFEST, "date_field": "modified_date"}, HOST),
        unaskable({**MANIFEST, "probe": {"date_gte": False, "date_lt": False}}, HOST),
        unaskable({**MANIFEST, "probe": {"date_unit": "day"}}, HOST),
        unaskable(MANIFEST, "https://other.omnitron.akinon.net"),
    ]
    assert reasons == [
        "drift not asked: not a date window (an id range, or an upstream export's children)",
        "drift not asked: no version field is known of not_registered",
        "drift not asked: a modified_date window (the changes feed: a later change lands in a later window)",
        "drift not asked: the tenant ignores created_date filters (the export cut its window itself)",
        "drift not asked: the tenant's created_date filters take days",
        f"drift not asked: exported from {HOST}, not from the connection's https://other.omnitron.akinon.net",
    ]


def test_a_connection_that_cannot_be_used_fails_once(akinon_default, root, monkeypatch):
    """The first window is asked alone: a wrong password fails the read at once, with one login tried."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_AKINON_DEFAULT", akinon_default.connection_json().replace("s3cret", "wrong")
    )
    before = akinon_default.log.requests
    with pytest.raises(AkinonApiError):
        read_coverage(
            root, last=DAYS[-1], today=date(2026, 1, 4), hook=AkinonHook("akinon_default", max_retries=0)
        )
    assert akinon_default.log.requests - before == 1


def test_max_concurrency_is_a_whole_number_of_at_least_one(akinon_default, root):
    """Refused before any request."""
    manifest = read_manifest(f"{root}/date=2026-01-01")
    for wrong in (0, -1, 1.5):
        with pytest.raises(AkinonConfigError, match="max_concurrency"):
            ask_all(AkinonHook("akinon_default"), [manifest], max_concurrency=wrong)  # type: ignore[arg-type]
