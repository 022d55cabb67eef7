"""A server that misbehaves: each switch of the fake gives an exact export, or a clear error within
seconds with the previous export of the window intact."""

from __future__ import annotations

import hashlib
import logging

import pytest

from airflow_provider_akinon.errors import AkinonApiError, AkinonPageError, ExportConsistencyError
from airflow_provider_akinon.exports import iter_export_records, read_manifest
from airflow_provider_akinon.operators.akinon import FetchOrdersOperator

DAY = {"start": "2026-01-02T00:00:00Z", "end": "2026-01-03T00:00:00Z"}
MAINTENANCE = b'{"detail": "Service is under maintenance, please try later."}'


def export(destination, **kwargs):
    return FetchOrdersOperator(task_id="o", destination=str(destination), **{**DAY, **kwargs}).execute({})


def truth(server):
    return server.data.expected("orders", "created_date", DAY["start"], DAY["end"])


def snapshot(folder):
    """Every file of a folder with its sha256: what a reader of the export would find."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.rglob("*")
        if p.is_file()
    }


@pytest.fixture
def previous(akinon_default, tmp_path, monkeypatch):
    """A good export of the window already published, and a connection with quick, few retries."""
    export(tmp_path, page_size=50)
    monkeypatch.setenv("AIRFLOW_CONN_AKINON_DEFAULT", akinon_default.connection_json(max_retries=2))
    return snapshot(tmp_path)


def fails_leaving_the_previous_export(tmp_path, previous, error, match, **kwargs):
    with pytest.raises(error, match=match) as caught:
        export(tmp_path, page_size=50, **kwargs)
    assert snapshot(tmp_path) == previous
    return str(caught.value)


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        (MAINTENANCE, "Service is under maintenance"),
        (b'{"count": 300, "next": null}', '"count": 300'),
        (b'{"count": 300, "next": null, "results": null}', '"results": null'),
    ],
)
def test_a_200_that_is_not_a_page_is_an_error_never_an_empty_export(
    akinon_default, tmp_path, previous, body, shown
):
    akinon_default.faults.not_a_page_every, akinon_default.faults.not_a_page_body = 1, body
    message = fails_leaving_the_previous_export(
        tmp_path, previous, AkinonApiError, "200 but not a page of records"
    )
    assert shown in message
    assert "failed after 3 attempts" in message  # retried like a 5xx (max_retries=2), then failed


def test_a_maintenance_page_now_and_then_is_retried_and_the_export_is_exact(akinon_default, tmp_path):
    akinon_default.faults.not_a_page_every = 4
    summary = export(tmp_path, page_size=20)
    assert sorted(r["id"] for r in iter_export_records(summary["uri"])) == truth(akinon_default)
    assert akinon_default.log.faults["not_a_page"] >= 2


def test_an_unpaged_array_is_walked_by_its_ids_or_refused_at_once_naming_the_fix(
    akinon_default, tmp_path, previous
):
    server = akinon_default
    server.api.pagination = "none"  # the whole list as a top-level array, whatever is asked
    summary = export(tmp_path, page_size=50)  # the id lookups bound each answer: a keyset walk
    assert sorted(r["id"] for r in iter_export_records(summary["uri"])) == truth(server)
    manifest = read_manifest(summary["uri"])
    assert (manifest["paging"], manifest["count"], manifest["end"]) == ("keyset", None, "empty page")
    previous = snapshot(tmp_path)
    server.api.ignore_params = frozenset({"id__gt", "id__gte", "id__lt"})
    message = fails_leaving_the_previous_export(
        tmp_path, previous, ExportConsistencyError, "a top-level array.* neither page=2 nor an offset moves"
    )
    assert "pagination extra" in message  # names the fix
    assert "not_a_page" not in server.log.faults


@pytest.mark.parametrize("pagination", ["limit_offset", "cursor"])
@pytest.mark.parametrize(
    "ignored",
    [frozenset({"id__gt", "id__gte", "id__lt"}), frozenset({"id__gt", "id__gte", "id__lt", "sort"})],
)
def test_limit_offset_and_cursor_lists_are_walked_exactly_and_bounded(
    akinon_default, tmp_path, pagination, ignored
):
    server = akinon_default
    server.api.pagination, server.api.ignore_params = pagination, ignored
    summary = export(tmp_path, page_size=20)
    got = [r["id"] for r in iter_export_records(summary["uri"])]
    assert sorted(got) == truth(server)
    assert len(got) == len(set(got))
    manifest = read_manifest(summary["uri"])
    assert manifest["probe"]["pagination"] == pagination
    pages = len(truth(server)) // 20 + 1
    walked = [p for p in server.log.paths if "created_date__gte=2026-01-02" in p and "limit=20" in p]
    assert len(walked) <= 2 * (pages + 2)  # one walk and its recounts, at most a settle pass more


def test_page_walk_over_a_list_that_ignores_page_ends_with_an_error_not_for_ever(
    akinon_default, tmp_path, previous, monkeypatch
):
    server = akinon_default
    server.api.pagination = "limit_offset"
    server.api.ignore_params = frozenset({"id__gt", "id__gte", "id__lt", "sort", "offset"})
    message = fails_leaving_the_previous_export(
        tmp_path, previous, ExportConsistencyError, "neither page=2 nor an offset moves to other records"
    )
    assert "Nothing was exported" in message  # refused before any walk
    assert server.log.requests < 40
    # told how it pages, the walk finds it ignores the offset, and says so
    monkeypatch.setenv(
        "AIRFLOW_CONN_AKINON_DEFAULT", server.connection_json(max_retries=2, pagination="limit_offset")
    )
    message = fails_leaving_the_previous_export(tmp_path, previous, AkinonPageError, "same records as page")
    assert "would never end" in message


def test_a_dripping_server_fails_within_the_read_timeout(akinon_default, tmp_path, previous, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_AKINON_DEFAULT", akinon_default.connection_json(max_retries=1, timeout=1)
    )
    akinon_default.faults.drip_every, akinon_default.faults.drip_seconds = 1, 0.2
    message = fails_leaving_the_previous_export(
        tmp_path, previous, AkinonApiError, "did not arrive whole in 1 s"
    )
    assert "Raise the connection's timeout" in message


def test_the_connection_test_answers_within_15_s_whatever_the_server_drips(make_hook, server):
    import time

    server.faults.drip_every, server.faults.drip_seconds = 1, 1.0
    hook = make_hook()  # default read timeout: 60 s
    started = time.monotonic()
    ok, message = hook.test_connection()
    assert not ok
    assert "did not arrive whole in 10 s" in message
    assert time.monotonic() - started < 15


def test_a_fixed_page_size_larger_than_asked_is_walked_by_its_own_size(akinon_default, tmp_path):
    """DRF without a page-size parameter answers its own PAGE_SIZE whatever is asked."""
    akinon_default.api.fixed_page = 40
    akinon_default.api.ignore_params = frozenset({"id__gt", "id__gte", "id__lt"})  # a page walk
    summary = export(tmp_path, page_size=10)
    assert sorted(r["id"] for r in iter_export_records(summary["uri"])) == truth(akinon_default)
    assert read_manifest(summary["uri"])["probe"]["page_size"] == 40


def test_a_body_beyond_the_bound_is_not_read_whole(akinon_default, tmp_path, previous, monkeypatch):
    from airflow_provider_akinon.hooks.http import transport

    monkeypatch.setattr(transport, "MAX_BODY_BYTES", 64 * 1024)  # pages of 50 orders are ~100 KB
    fails_leaving_the_previous_export(tmp_path, previous, AkinonPageError, "larger than")


def test_a_count_that_lies_is_named_as_such(akinon_default, tmp_path, previous):
    akinon_default.api.count_offset = 10
    message = fails_leaving_the_previous_export(
        tmp_path, previous, ExportConsistencyError, "its count disagrees with the records its pages hold"
    )
    assert "kept changing" not in message


@pytest.mark.parametrize(
    ("record", "match"),
    [({"number": "x"}, "has no 'id'|missing required field `id`"), (7, "not objects|not an object")],
)
def test_records_that_are_not_this_lists_are_refused_with_where(
    akinon_default, tmp_path, previous, record, match
):
    import orjson

    body = b'{"count": 1, "next": null, "results": [%s]}' % orjson.dumps(record)
    akinon_default.faults.not_a_page_every, akinon_default.faults.not_a_page_body = 1, body
    message = fails_leaving_the_previous_export(tmp_path, previous, AkinonPageError, match)
    assert "/api/v1/orders/" in message
    assert "attempts" not in message  # a page of the wrong records does not heal: failed at once


def test_a_null_date_is_named_not_blamed_on_the_filter(akinon_default, tmp_path, previous):
    akinon_default.data.blank_date(truth(akinon_default)[3])
    message = fails_leaving_the_previous_export(
        tmp_path, previous, ExportConsistencyError, "created_date=None"
    )
    assert "ignored the" not in message


def test_an_echoing_login_never_shows_the_password(akinon_default, monkeypatch, caplog, capfd):
    import json

    from airflow_provider_akinon.hooks.akinon import AkinonHook

    caplog.set_level(logging.DEBUG)
    password = "Gizli-şifre-ü-2026"
    conn = json.loads(akinon_default.connection_json())
    conn["password"] = password
    monkeypatch.setenv("AIRFLOW_CONN_AKINON_ECHO", json.dumps(conn))
    akinon_default.faults.echo_login = True
    with pytest.raises(AkinonApiError, match="login failed for user 'akinon'") as err:
        AkinonHook("akinon_echo").get("orders/")
    escaped = json.dumps(password)[1:-1]
    assert escaped != password  # the JSON-escaped spelling differs (\\u015f ...)
    text = str(err.value) + caplog.text + "".join(capfd.readouterr())
    assert password not in text
    assert escaped not in text
    assert "***" in str(err.value)


def test_a_token_with_control_characters_is_refused_unseen(akinon_default, make_hook):
    akinon_default.faults.bad_token = True
    hook = make_hook()
    with pytest.raises(AkinonApiError, match="control characters") as err:
        hook.get("orders/")
    assert "X-Injected" not in str(err.value)
    assert all("X-Injected" not in header for header in akinon_default.log.auth_headers)
