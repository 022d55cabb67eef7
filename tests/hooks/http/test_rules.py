"""The request rules without I/O: what each answer or failure means, for safe and unsafe methods."""

from __future__ import annotations

import logging

import pytest
import urllib3

from airflow_provider_akinon.errors import AkinonApiError, AkinonUnreachableError
from airflow_provider_akinon.hooks.config import AkinonConfig, RetryPolicy
from airflow_provider_akinon.hooks.http.rules import Again, Answer, Attempts, same_origin

CONFIG = AkinonConfig(
    conn_id="c",
    base_url="https://acme.example:8443",
    api_prefix="api/v1/",
    login="user",
    password="pw",
    page_size=100,
    timeout=60,
    connect_timeout=10,
    verify=True,
    proxy=None,
    retry=RetryPolicy(max_retries=2, backoff=0.01, max_wait=1),
    login_endpoint="auth/login/",
    timezone=__import__("datetime").UTC,
)
LOG = logging.getLogger("test")


def attempts(method: str = "GET", **kwargs) -> Attempts:
    return Attempts(CONFIG, method, "/api/v1/orders/", log=LOG, **kwargs)


def test_2xx_is_parsed_and_bad_json_is_retried_only_when_safe():
    assert attempts().answered(Answer(200, b'{"count": 1}'), "t") == {"count": 1}
    assert attempts().answered(Answer(200, b'{"count": 1'), "t") is Again.RETRY
    with pytest.raises(AkinonApiError, match="not JSON"):
        attempts("POST").answered(Answer(200, b"<html>"), "t")


def test_5xx_is_retried_for_get_but_never_for_post():
    assert attempts().answered(Answer(502, b"<html>bad gateway</html>"), "t") is Again.RETRY
    with pytest.raises(AkinonApiError, match=r"POST /api/v1/orders/ -> 502"):
        attempts("POST").answered(Answer(502, b"<html>bad gateway</html>"), "t")
    # 429 means the request was refused before it did anything: safe for any method
    assert attempts("POST").answered(Answer(429, b"{}", {"Retry-After": "0.5"}), "t") is Again.RETRY


def test_retry_after_sets_the_wait_within_the_cap():
    rules = attempts()
    assert rules.answered(Answer(429, b"{}", {"Retry-After": "0.5"}), "t") is Again.RETRY
    assert 0.5 <= rules.wait <= 1


def test_resets_are_retried_only_for_safe_methods_and_refusals_for_all():
    reset = urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError(104, "reset"))
    assert attempts().failed(reset) is Again.RETRY
    with pytest.raises(AkinonApiError, match="not retried, it may have arrived"):
        attempts("POST").failed(reset)
    refused = urllib3.exceptions.NewConnectionError(
        None, "Failed to establish: [Errno 111] Connection refused"
    )
    assert attempts("POST").failed(refused) is Again.RETRY


def test_an_unreachable_host_says_so_and_does_not_advise_more_retries():
    rules = attempts()
    refused = urllib3.exceptions.NewConnectionError(None, "[Errno 111] Connection refused")
    assert rules.failed(refused) is Again.RETRY
    assert rules.failed(refused) is Again.RETRY
    with pytest.raises(AkinonUnreachableError) as err:
        rules.failed(refused)
    message = str(err.value)
    assert message.startswith("cannot reach https://acme.example:8443: connection refused (3 attempts")
    assert "max_retries" not in message


def test_a_host_that_answered_before_gets_the_retry_advice():
    rules = attempts()
    assert rules.answered(Answer(503, b"busy"), "t") is Again.RETRY
    assert rules.answered(Answer(503, b"busy"), "t") is Again.RETRY
    with pytest.raises(
        AkinonApiError, match=r"failed after 3 attempts.*kept answering 503.*raise max_retries"
    ):
        rules.answered(Answer(503, b"busy"), "t")


def test_read_timeout_names_the_timeout():
    timeout = urllib3.exceptions.ReadTimeoutError(None, "/api/v1/orders/", "Read timed out.")
    rules = attempts()
    rules.failed(timeout)
    rules.failed(timeout)
    with pytest.raises(AkinonUnreachableError, match="no answer in 60 s"):
        rules.failed(timeout)


def test_tls_failures_fail_at_once_with_the_fix():
    with pytest.raises(AkinonUnreachableError, match="REQUESTS_CA_BUNDLE"):
        attempts().failed(urllib3.exceptions.SSLError("certificate verify failed"))


def test_401_asks_for_a_new_login_a_bounded_number_of_times():
    rules = attempts()
    assert [rules.answered(Answer(401, b'{"detail": "Invalid token."}'), "t") for _ in range(3)] == [
        Again.RELOGIN
    ] * 3
    with pytest.raises(AkinonApiError, match="keep being rejected after 3 new logins"):
        rules.answered(Answer(401, b'{"detail": "Invalid token."}'), "t")


def test_redirects_are_not_followed_and_say_why():
    with pytest.raises(AkinonApiError, match="not followed so the token stays on the connection's host"):
        attempts().answered(Answer(301, b"", {"Location": "https://elsewhere.example/api/v1/orders/"}), "t")


def test_check_false_returns_error_answers():
    answer = Answer(404, b'{"detail": "Not found."}')
    assert attempts(check=False).answered(answer, "t") is answer


def test_same_origin_compares_scheme_host_and_port():
    assert same_origin("https://acme.example:8443/api/v1/orders/?page=2", CONFIG.base_url)
    assert not same_origin("http://acme.example:8443/api/v1/orders/", CONFIG.base_url)
    assert not same_origin("https://acme.example/api/v1/orders/", CONFIG.base_url)
    assert not same_origin("https://localhost:8443/api/v1/orders/", CONFIG.base_url)


def test_json_that_is_not_a_list_page_fails_at_once_with_what_is_wrong():
    from airflow_provider_akinon.hooks.paging.decoder import PageDecoder

    rules = attempts(decode=PageDecoder("id"))
    with pytest.raises(
        AkinonApiError, match=r"not a page of this list's records: record 0 .* not an integer"
    ):
        rules.answered(Answer(200, b'{"count": 1, "results": [{"id": "abc"}]}'), "t")
    assert rules.attempt == 0  # not retried: it would not heal
    assert (
        rules.answered(Answer(200, b'{"count": 1, "results": [{"id": 7'), "t") is Again.RETRY
    )  # broken: retried


def test_proxy_credentials_become_a_header_and_never_show():
    from dataclasses import replace

    from airflow_provider_akinon.hooks.http.transport import Urllib3Transport

    config = replace(CONFIG, proxy="http://me:pr0xy-pw@127.0.0.1:3128")
    pool = Urllib3Transport(config).pool
    assert pool.proxy_headers["proxy-authorization"].startswith("Basic ")
    assert "pr0xy-pw" not in str(pool.proxy)
    rules = Attempts(config, "GET", "/api/v1/orders/", log=LOG)
    problem = urllib3.exceptions.ProxyError("Unable to connect to proxy", OSError("refused"))
    rules.failed(problem)
    rules.failed(problem)
    with pytest.raises(AkinonUnreachableError) as err:
        rules.failed(problem)
    assert "http://127.0.0.1:3128" in str(err.value)
    assert "pr0xy-pw" not in str(err.value)
