"""The probe's answers kept a day: a daily task's first request after login is data; a list that no longer
answers as they say is probed again, and the export is exact."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest

from airflow_provider_akinon.exports import iter_export_records, read_manifest
from airflow_provider_akinon.operators.akinon import FetchOrdersOperator

DAY = {"start": "2026-01-02T00:00:00Z", "end": "2026-01-03T00:00:00Z"}


@pytest.fixture
def kept(akinon_default, tmp_path, monkeypatch):
    """``akinon_default`` with its probe's answers kept in a folder."""
    folder = tmp_path / "probe"
    monkeypatch.setenv(
        "AIRFLOW_CONN_AKINON_DEFAULT", akinon_default.connection_json(probe_cache=f"file://{folder}")
    )
    return folder


def export(tmp_path, name: str) -> dict:
    return FetchOrdersOperator(task_id="o", destination=str(tmp_path / name), page_size=50, **DAY).execute({})


def requests_after_login(server) -> list[str]:
    """The paths asked after the last login, in order."""
    paths = server.log.paths
    last = max(n for n, path in enumerate(paths) if urlsplit(path).path.endswith("auth/login/"))
    return paths[last + 1 :]


def truth(server) -> list[int]:
    return server.data.expected("orders", "created_date", DAY["start"], DAY["end"])


def test_with_a_kept_probe_the_first_request_after_login_is_the_window_s_data(akinon_default, kept, tmp_path):
    first = export(tmp_path, "d1")
    asked = requests_after_login(akinon_default)
    assert "created_date__gte" not in asked[0]  # the first task asked the probe
    assert list(kept.glob("*.json"))  # and kept its answers
    second = export(tmp_path, "d2")  # the next task of the day: a new hook, the answers kept
    asked = requests_after_login(akinon_default)
    assert all("created_date__gte=2026-01-02" in path for path in asked)  # data only, from the first
    for summary in (first, second):
        assert sorted(r["id"] for r in iter_export_records(summary["uri"])) == truth(akinon_default)
    assert read_manifest(second["uri"])["probe"] == read_manifest(first["uri"])["probe"]


def test_a_list_that_no_longer_answers_as_its_kept_probe_says_is_probed_again(akinon_default, kept, tmp_path):
    export(tmp_path, "d1")  # kept: sort and id lookups honoured, a keyset walk
    akinon_default.api.ignore_params = frozenset({"id__gt", "id__gte", "id__lt"})  # the tenant changed
    summary = export(tmp_path, "d2")
    assert sorted(r["id"] for r in iter_export_records(summary["uri"])) == truth(akinon_default)
    manifest = read_manifest(summary["uri"])
    assert (manifest["paging"], manifest["probe"]["id_gt"]) == ("page", False)  # asked again, walked so
    kept_now = [json.loads(path.read_text()) for path in kept.glob("*.json")]
    assert [k["answers"]["id_gt"] for k in kept_now] == [False]  # the fresh answers are kept instead


def test_answers_older_than_a_day_are_asked_again(akinon_default, kept, tmp_path):
    export(tmp_path, "d1")
    (path,) = kept.glob("*.json")
    old = json.loads(path.read_text())
    old["probed_at"] = (datetime.now(UTC) - timedelta(days=1, minutes=1)).isoformat()
    path.write_text(json.dumps(old))
    export(tmp_path, "d2")
    assert "created_date__gte" not in requests_after_login(akinon_default)[0]  # probed again
    assert json.loads(path.read_text())["probed_at"] != old["probed_at"]


def test_a_store_that_cannot_be_read_is_no_error(akinon_default, kept, tmp_path):
    kept.mkdir()
    export(tmp_path, "d1")
    (path,) = kept.glob("*.json")
    path.write_text("not json")
    summary = export(tmp_path, "d2")  # probed again, and kept again
    assert sorted(r["id"] for r in iter_export_records(summary["uri"])) == truth(akinon_default)
    assert json.loads(path.read_text())["answers"]["endpoint"] == "orders/"
