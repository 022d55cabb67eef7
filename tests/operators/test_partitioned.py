"""An export of many days in one task: one partition per day, each with its own manifest, published on its
own; the probe asked once for all; each day's asset event names its own partition."""

from __future__ import annotations

import re

import pytest

from airflow_provider_akinon.errors import AkinonApiError
from airflow_provider_akinon.exports import iter_export_records, read_manifest
from airflow_provider_akinon.operators.akinon import FetchOrdersOperator

DAYS = ["2026-01-01", "2026-01-02", "2026-01-03"]


def export(tmp_path, **kwargs) -> dict:
    return FetchOrdersOperator(
        task_id="o",
        destination=str(tmp_path / "orders"),
        start="2026-01-01T00:00:00Z",
        end="2026-01-04T00:00:00Z",
        partition_by="P1D",
        page_size=50,
        **kwargs,
    ).execute({})


def test_each_day_of_a_range_is_its_own_partition_with_its_own_manifest(akinon_default, tmp_path):
    summary = export(tmp_path)
    assert summary["partitioned"] == [f"file://{tmp_path}/orders/date={day}/" for day in DAYS]
    for day, uri in zip(DAYS, summary["partitioned"], strict=True):
        manifest = read_manifest(uri)
        following = f"2026-01-{int(day[-2:]) + 1:02d}"
        assert (manifest["window"]["start"][:10], manifest["window"]["end"][:10]) == (day, following)
        truth = akinon_default.data.expected(
            "orders", "created_date", f"{day}T00:00:00Z", manifest["window"]["end"]
        )
        assert sorted(r["id"] for r in iter_export_records(uri)) == truth
    assert summary["records"] == sum(read_manifest(uri)["records"] for uri in summary["partitioned"])
    sorts = [p for p in akinon_default.log.paths if re.search(r"[?&]limit=3(&|$)", p)]  # the probe's sort
    logins = [p for p in akinon_default.log.paths if p.endswith("auth/login/")]
    assert len(logins) == 1  # one hook, one login,
    assert len(sorts) == 2  # one probe (its ascending and descending question) for the three days


def test_a_day_that_fails_leaves_the_days_before_published_and_itself_untouched(
    akinon_default, tmp_path, monkeypatch
):
    monkeypatch.setenv("AIRFLOW_CONN_AKINON_DEFAULT", akinon_default.connection_json(max_retries=0))
    calls = {"n": 0}
    handle = akinon_default.handle

    def failing_on_the_third_day(handler, method):  # every request of the last day answers 500
        if "created_date__gte=2026-01-03" in handler.path:
            return handler.send_body(500, b"<html>500</html>", "text/html")
        calls["n"] += 1
        return handle(handler, method)

    monkeypatch.setattr(akinon_default, "handle", failing_on_the_third_day)
    with pytest.raises(AkinonApiError):
        export(tmp_path)
    assert (tmp_path / "orders" / "date=2026-01-01" / "_manifest.json").exists()
    assert (tmp_path / "orders" / "date=2026-01-02" / "_manifest.json").exists()
    assert not (tmp_path / "orders" / "date=2026-01-03" / "_manifest.json").exists()
