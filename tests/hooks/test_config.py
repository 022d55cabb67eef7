"""The connection read into a config: secrets never shown, bad hosts and waits refused with the fix."""

from __future__ import annotations

import json

import pytest

from airflow_provider_akinon.errors import AkinonApiError, AkinonConfigError
from airflow_provider_akinon.hooks.akinon import AkinonHook


def test_a_host_with_credentials_is_refused_without_showing_them(monkeypatch):
    conn = {"conn_type": "akinon", "host": "http://user:hunter2@acme.example", "password": "pw"}
    monkeypatch.setenv("AIRFLOW_CONN_AKINON_CREDS", json.dumps(conn))
    hook = AkinonHook("akinon_creds")
    with pytest.raises(AkinonConfigError, match="carries credentials") as err:
        hook.get("orders/")
    assert "hunter2" not in str(err.value)
    assert "http://acme.example" in str(err.value)


def test_the_config_repr_shows_no_secret(make_hook):
    hook = make_hook()
    text = repr(hook.config)
    assert hook.config.password not in text
    assert "base_url" in text


def test_null_and_empty_extras_are_absent_not_errors(server, monkeypatch):
    conn = json.loads(server.connection_json())
    conn["extra"].update({"max_retries": None, "timeout": "", "page_size": None, "timezone": None})
    monkeypatch.setenv("AIRFLOW_CONN_AKINON_NULLS", json.dumps(conn))
    cfg = AkinonHook("akinon_nulls").config
    assert (cfg.retry.max_retries, cfg.timeout, cfg.page_size) == (6, 60, None)


def test_a_retry_after_longer_than_max_wait_fails_at_once_naming_both(make_hook, server):
    server.faults.throttle_every, server.faults.retry_after = 1, "86400"
    hook = make_hook()  # max_wait 2 s in the test connection
    with pytest.raises(
        AkinonApiError, match=r"asks to wait 86400 s \(Retry-After\).*max_wait \(2 s\)"
    ) as err:
        hook.get("orders/")
    assert "raise max_wait to at least 86400" in str(err.value)
    assert hook.waits == []  # never retried sooner than asked


def test_a_ready_token_with_control_characters_is_refused_unseen(server, monkeypatch):
    conn = {"conn_type": "akinon", "host": server.url, "password": "tok\r\nen-123"}
    monkeypatch.setenv("AIRFLOW_CONN_AKINON_BADTOKEN", json.dumps(conn))
    with pytest.raises(AkinonConfigError, match="spaces or control characters") as err:
        AkinonHook("akinon_badtoken").get("orders/")
    assert "en-123" not in str(err.value)
    assert server.log.requests == 0


def test_a_host_that_answered_before_is_not_sent_to_check_its_dns(make_hook, server):
    hook = make_hook(max_retries=1)
    hook.get("orders/", {"limit": 1})
    server.faults.reset_every = 1  # from now on it drops every connection
    with pytest.raises(AkinonApiError) as err:
        hook.get("orders/", {"limit": 1})
    message = str(err.value)
    assert "the connection broke each time" in message
    assert "DNS" not in message


def test_every_extra_is_read_by_its_declaration_and_refused_clearly(server, monkeypatch):
    conn = json.loads(server.connection_json())
    conn["extra"].update({"retry_deadline": "30", "max_wait": "0.5", "login_endpoint": "auth/login/"})
    monkeypatch.setenv("AIRFLOW_CONN_AKINON_EXTRAS", json.dumps(conn))
    cfg = AkinonHook("akinon_extras").config
    assert (cfg.retry.deadline, cfg.retry.max_wait) == (30.0, 0.5)
    conn["extra"]["timeout"] = 0.01
    monkeypatch.setenv("AIRFLOW_CONN_AKINON_EXTRAS", json.dumps(conn))
    with pytest.raises(AkinonConfigError, match=r"timeout must be >= 0.1"):
        AkinonHook("akinon_extras").config  # noqa: B018
