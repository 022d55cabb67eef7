"""AkinonHook against the fake Akinon server over real HTTP on loopback."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from urllib.parse import parse_qsl, urlsplit

import pytest

from airflow_provider_akinon.hooks.akinon import (
    AkinonApiError,
    AkinonConfigError,
    AkinonHook,
    RetryPolicy,
    parse_retry_after,
)
from airflow_provider_akinon.testing import AkinonData, FakeAkinonServer
from airflow_provider_akinon.testing.data import parse_ts
from tests.conftest import PASSWORD

DAY2 = {"created_date__gte": "2026-01-02T00:00:00Z", "created_date__lt": "2026-01-03T00:00:00Z"}


def day2_truth(server):
    return server.data.order_ids("created_date", parse_ts("2026-01-02"), parse_ts("2026-01-03"))


# ---------------------------------------------------------------- paging
@pytest.mark.parametrize("page_size", [1, 7, 100, 1000])
def test_paging_over_a_window_is_complete_and_duplicate_free(make_hook, server, page_size):
    hook = make_hook(page_size=page_size)
    ids = [order["id"] for order in hook.paginate("orders/", DAY2)]
    assert ids == day2_truth(server)
    assert len(ids) > 100


def test_paginate_is_lazy(make_hook, server):
    hook = make_hook(page_size=10)
    records = hook.paginate("orders/")
    first = next(records)
    assert first["id"] == 1
    # the generator fetched only what was consumed: one page of orders
    assert len([p for p in server.log.paths if "/orders/" in p]) == 1


def test_sort_is_sent_unless_the_caller_sorts(make_hook, server):
    hook = make_hook(page_size=5)
    newest = next(hook.paginate("orders/", {"sort": "-id"}))
    assert newest["id"] == 500
    assert next(hook.paginate("orders/"))["id"] == 1
    assert "sort=id" in server.log.paths[-1]


def test_invalid_page_past_the_end_is_the_end(make_hook, server):
    hook = make_hook()
    pages = list(hook.iter_pages("orders/", {"page": 6}, page_size=100))
    assert pages == []


def test_absolute_paths_and_prefixes(make_hook, server):
    hook = make_hook(page_size=50)
    via_i1 = [o["id"] for o in hook.paginate("/api/i1/orders/", DAY2)]
    assert via_i1 == day2_truth(server)
    oms = list(
        hook.iter_oms_order_items(
            created_date__gte="2026-01-02T00:00:00Z", created_date__lt="2026-01-02T06:00:00Z"
        )
    )
    expected = [
        pk
        for oid in day2_truth(server)
        for pk in server.data.item_pks(oid)
        if parse_ts(server.data.oms_item(pk)["created_date"]) < parse_ts("2026-01-02T06:00:00")
    ]
    assert [row["id"] for row in oms] == expected


def test_convenience_methods(make_hook, server):
    hook = make_hook()
    order = server.data.order(42)
    assert hook.get_order_by_number(order["number"])["id"] == 42
    assert [i["pk"] for i in hook.iter_order_items(42)] == server.data.item_pks(42)
    assert [d["pk"] for d in hook.iter_discount_items(42)] == server.data.discount_pks(42)
    assert len(list(hook.iter_orders(**DAY2))) == len(day2_truth(server))
    with pytest.raises(AkinonApiError, match="No order with number"):
        hook.get_order_by_number("does-not-exist")


def test_one_keep_alive_session_and_one_login(make_hook, server):
    hook = make_hook(page_size=20)
    assert len(list(hook.paginate("orders/"))) == 500
    assert server.log.logins == 1
    assert hook.session is hook.session


# ---------------------------------------------------------------- retries
def test_429_waits_what_retry_after_says(make_hook, server):
    server.faults.throttle_every = 3
    server.faults.retry_after = "1.5"
    hook = make_hook(page_size=50)
    ids = [o["id"] for o in hook.paginate("orders/", DAY2)]
    assert ids == day2_truth(server)
    assert server.log.faults["429"] >= 1
    assert len(hook.waits) == server.log.faults["429"]
    assert all(w >= 1.5 for w in hook.waits)


def test_retry_after_as_http_date_and_cap():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=parse_ts("2015-10-21T07:27:30")) == 30
    assert parse_retry_after("soon") is None
    policy = RetryPolicy(backoff=0.01, max_wait=5)
    assert policy.wait(1, retry_after=3600) == 5
    assert 3 <= policy.wait(1, retry_after=3) <= 5


def test_backoff_is_exponential_with_jitter_and_bounded():
    policy = RetryPolicy(backoff=1, max_wait=60)
    waits = [policy.wait(n) for n in range(1, 10)]
    assert all(0.5 * min(60, 2 ** (n - 1)) <= w <= min(60, 2 ** (n - 1)) for n, w in enumerate(waits, 1))
    assert max(waits) <= 60


@pytest.mark.parametrize(
    ("fault", "label"),
    [("error_every", "5xx"), ("reset_every", "reset"), ("bad_json_every", "bad_json")],
)
def test_transient_faults_are_retried(make_hook, server, fault, label):
    setattr(server.faults, fault, 4)
    hook = make_hook(page_size=25)
    ids = [o["id"] for o in hook.paginate("orders/", DAY2)]
    assert ids == day2_truth(server)
    assert server.log.faults[label] >= 2
    assert hook.stats.retries == server.log.faults[label]


def test_read_timeout_is_retried(make_hook, server):
    server.faults.stall_every = 5
    server.faults.stall_seconds = 1.0
    hook = make_hook(page_size=20, timeout=0.3)
    ids = [o["id"] for o in hook.paginate("orders/", DAY2)]
    assert ids == day2_truth(server)
    assert server.log.faults["stall"] >= 1
    assert hook.stats.retries >= 1


def test_5xx_html_gives_up_after_max_retries_with_a_clear_error(make_hook, server):
    server.faults.error_every = 1
    hook = make_hook(max_retries=3)
    with pytest.raises(AkinonApiError) as err:
        hook.get("orders/")
    message = str(err.value)
    assert "GET /api/v1/orders/ failed after 4 attempts" in message
    assert "<html>" in message or "50" in message
    assert len(hook.waits) == 3


def test_other_4xx_fail_at_once(make_hook, server):
    hook = make_hook()
    with pytest.raises(AkinonApiError, match=r"GET /api/v1/order_item/detailed_integration/ -> 400: .*order"):
        hook.get("order_item/detailed_integration/")
    with pytest.raises(AkinonApiError, match="-> 404"):
        hook.get("no_such_endpoint/")
    assert hook.waits == []


# ---------------------------------------------------------------- auth
def test_401_logs_in_again_once(make_hook, server):
    hook = make_hook(page_size=10)
    server.faults.revoke_every = 5
    ids = [o["id"] for o in hook.paginate("orders/", DAY2)]
    assert ids == day2_truth(server)
    assert server.log.faults["revoke"] >= 2
    assert server.log.logins == 1 + server.log.faults["revoke"]


def test_rejected_ready_token_fails_clearly(make_hook, server):
    hook = make_hook(token=True)
    assert hook.get("orders/", {"limit": 1})["count"] == 500
    server.api_token = "rotated"
    with pytest.raises(AkinonApiError, match="the API token of connection 'akinon_test' was rejected"):
        hook.get("orders/")
    assert server.log.logins == 0


def test_bad_credentials_name_user_and_host(server, monkeypatch):
    conn = json.loads(server.connection_json())
    conn["password"] = "wrong-password-xyz"
    monkeypatch.setenv("AIRFLOW_CONN_AKINON_BAD", json.dumps(conn))
    with pytest.raises(AkinonApiError) as err:
        AkinonHook("akinon_bad").get("orders/")
    message = str(err.value)
    assert f"login failed for user 'akinon' at host {server.url}" in message
    assert "wrong-password-xyz" not in message


def test_token_never_goes_to_a_foreign_host(make_hook, server):
    with FakeAkinonServer(AkinonData(orders=5)) as foreign:
        server.faults.foreign_next = f"127.0.0.1:{foreign.port}"
        hook = make_hook(page_size=30)
        ids = [o["id"] for o in hook.paginate("orders/", DAY2)]
        assert ids == day2_truth(server)
        assert foreign.log.requests == 0
    assert all(h.startswith("Token ") for h in server.log.auth_headers[1:])


def test_no_secret_in_logs_or_errors(make_hook, server, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    server.faults.revoke_every = 5
    server.faults.error_every = 7
    hook = make_hook(page_size=20, max_retries=8)
    list(hook.paginate("orders/", DAY2))
    server.faults.error_every = 1
    with pytest.raises(AkinonApiError) as err:
        hook.get("orders/")
    secrets = [*server.issued, PASSWORD, server.api_token]
    assert len(server.issued) >= 2, "the run must have logged in, and again after a revocation"
    text = caplog.text + "".join(capfd.readouterr()) + str(err.value)  # structlog writes to stdout
    for secret in secrets:
        assert secret not in text


def test_httphook_run_uses_token_auth_and_no_extras_as_headers(make_hook, server):
    hook = make_hook(page_size=5)
    response = hook.run("orders/", data={"limit": 2, "sort": "id"})
    assert response.json()["results"][0]["id"] == 1
    assert server.log.auth_headers[-1].startswith("Token ")


def test_http_operator_gets_the_akinon_hook(make_hook, server):
    from airflow.providers.http.operators.http import HttpOperator

    make_hook(page_size=5)  # defines AIRFLOW_CONN_AKINON_TEST
    op = HttpOperator(
        task_id="h",
        http_conn_id="akinon_test",
        endpoint="orders/",
        method="GET",
        data={"limit": 1},
        response_filter=lambda r: r.json()["count"],
    )
    assert isinstance(op.hook, AkinonHook)
    assert op.execute({}) == 500


def test_test_connection(make_hook):
    ok, message = make_hook().test_connection()
    assert ok
    assert "500 orders" in message


# ---------------------------------------------------------------- bad input, before any request
@pytest.mark.parametrize(
    ("conn", "match"),
    [
        ({"conn_type": "akinon", "login": "a", "password": "b"}, "has no host"),
        (
            {"conn_type": "akinon", "host": "acme.omnitron.akinon.net", "password": "b"},
            "has no scheme; write it as https://acme",
        ),
        ({"conn_type": "akinon", "host": "ftp://acme", "password": "b"}, "is not an http"),
        (
            {"conn_type": "akinon", "host": "https://acme", "password": "b", "extra": {"page_size": 0}},
            "page_size must be >= 1",
        ),
        (
            {"conn_type": "akinon", "host": "https://acme", "password": "b", "extra": {"timeout": "x"}},
            "timeout='x'.*not a number",
        ),
        ({"conn_type": "akinon", "host": "https://acme"}, "has no password"),
    ],
)
def test_bad_connections_fail_fast_and_clearly(monkeypatch, conn, match):
    monkeypatch.setenv("AIRFLOW_CONN_AKINON_BROKEN", json.dumps(conn))
    hook = AkinonHook("akinon_broken")
    hook.sleep = pytest.fail  # never retried
    with pytest.raises(AkinonConfigError, match=match):
        hook.get("orders/")


def test_page_size_argument_is_validated(make_hook, server):
    hook = make_hook()
    with pytest.raises(AkinonConfigError, match="page_size must be a positive integer"):
        list(hook.paginate("orders/", page_size=0))
    with pytest.raises(AkinonConfigError, match="full URL"):
        hook.get("https://evil.example/orders/")
    assert server.log.requests == 0


def test_own_extras_are_not_sent_as_headers(make_hook, server):
    hook = make_hook(api_prefix="api/i1/", page_size=3)
    hook.get("orders/")
    session_headers = {k.lower() for k in hook.session.headers}
    assert not session_headers & {"api_prefix", "page_size", "backoff", "max_wait", "timeout", "verify"}
    assert server.log.paths[-1].startswith("/api/i1/orders/")


# ---------------------------------------------------------------- one rule set on every path
def test_connection_test_names_an_unreachable_host_at_once(monkeypatch):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    conn = {"conn_type": "akinon", "host": f"http://127.0.0.1:{port}", "login": "a", "password": "b"}
    monkeypatch.setenv("AIRFLOW_CONN_AKINON_DOWN", json.dumps(conn))
    hook = AkinonHook("akinon_down")
    hook.sleep = pytest.fail  # a connection test never retries
    ok, message = hook.test_connection()
    assert not ok
    assert message.startswith(f"cannot reach http://127.0.0.1:{port}: connection refused (1 attempts")
    assert "max_retries" not in message


def test_connection_test_against_a_host_that_never_answers_returns_within_15_s(monkeypatch):
    with socket.socket() as silent:  # the kernel accepts connections for it; nobody ever answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        conn = {"conn_type": "akinon", "host": f"http://127.0.0.1:{port}", "login": "a", "password": "b"}
        monkeypatch.setenv("AIRFLOW_CONN_AKINON_SILENT", json.dumps(conn))
        hook = AkinonHook("akinon_silent")  # default timeouts: 60 s to read, 6 retries
        hook.sleep = pytest.fail
        started = time.monotonic()
        ok, message = hook.test_connection()
        elapsed = time.monotonic() - started
    assert not ok
    assert message.startswith(f"cannot reach http://127.0.0.1:{port}: no whole answer in 10 s")
    assert elapsed < 15, elapsed


def test_connection_test_reports_what_the_api_honours(make_hook, server):
    server.api.max_limit = 100
    ok, message = make_hook(page_size=250).test_connection()
    assert ok
    assert "500 orders visible; page size (limit) capped at 100 (asked 250)" in message


def test_http_operator_survives_5xx_429_and_a_revoked_token(make_hook, server):
    from airflow.providers.http.operators.http import HttpOperator

    make_hook()  # defines AIRFLOW_CONN_AKINON_TEST with quick retries
    server.faults.error_every = 4
    server.faults.throttle_every, server.faults.retry_after = 5, "0"
    server.faults.revoke_every = 7

    def next_page(response):  # the query of the answer's ``next`` link: the server says what comes next
        link = response.json()["next"]
        return {"data": dict(parse_qsl(urlsplit(link).query))} if link else None

    op = HttpOperator(
        task_id="h",
        http_conn_id="akinon_test",
        endpoint="orders/",
        method="GET",
        data={"limit": 20, "sort": "id", "page": 1, **DAY2},
        pagination_function=next_page,
        response_filter=lambda responses: [o["id"] for r in responses for o in r.json()["results"]],
    )
    assert op.execute({}) == day2_truth(server)
    assert server.log.faults["5xx"]
    assert server.log.faults["429"]
    assert server.log.faults["revoke"]
    assert server.log.logins > 1


def test_post_params_go_in_the_query_and_unsafe_methods_are_not_resent(make_hook, server):
    hook = make_hook()
    with pytest.raises(AkinonApiError, match=r"POST /api/v1/orders/ -> 405"):
        hook.request("POST", "orders/", params={"dry_run": "true"}, json={"a": 1})
    assert server.log.paths[-1] == "/api/v1/orders/?dry_run=true"
    assert hook.waits == []


def test_both_faces_send_the_same_headers_and_retry_the_login(make_hook, server):
    hook = make_hook()
    server.faults.login_errors = 2
    asyncio.run(hook.aget("orders/", {"limit": 1}))
    assert server.log.faults["login_503"] == 2
    assert server.log.logins == 1
    assert len(hook.waits) == 2  # the login was retried under the same rules
    hook.get("orders/", {"limit": 1})
    agents = set(server.log.user_agents)
    assert len(agents) == 1
    assert agents.pop().startswith("airflow-provider-akinon/")


def test_a_host_without_scheme_keeps_its_port_in_the_advice(monkeypatch):
    conn = {"conn_type": "akinon", "host": "acme.omnitron.akinon.net", "port": 8443, "password": "b"}
    monkeypatch.setenv("AIRFLOW_CONN_AKINON_NOSCHEME", json.dumps(conn))
    with pytest.raises(AkinonConfigError, match=r"write it as https://acme\.omnitron\.akinon\.net:8443"):
        AkinonHook("akinon_noscheme").get("orders/")


def test_httphook_run_takes_a_ready_query_string(make_hook, server):
    response = make_hook().run("orders/", data="limit=2&sort=-id")
    assert [o["id"] for o in response.json()["results"]] == [500, 499]
