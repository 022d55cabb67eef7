"""The provider's one HTTP client: a keep-alive urllib3 pool, shared by threads, sending one attempt.

Chosen by measurement: requests' per-call machinery (preparing, hooks, cookies, adapters) was a third of
a page's CPU in the export profile. Proxy, CA bundle, ``verify``, timeouts and User-Agent come from the
:class:`~airflow_provider_akinon.hooks.config.AkinonConfig`; the async face of the request core runs
this same transport in a worker thread, so sync and async calls behave the same on the wire.

Every answer is bounded twice: it must arrive whole within the read timeout (a deadline per answer,
kept by :mod:`~airflow_provider_akinon.hooks.http.deadline`, not per socket read), and its body may not exceed
:data:`MAX_BODY_BYTES` (a page far larger than asked for is refused before it fills memory).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

import certifi
import urllib3

from airflow_provider_akinon.errors import AnswerTimeoutError, BodyTooLargeError
from airflow_provider_akinon.hooks.config import AkinonConfig, redact
from airflow_provider_akinon.hooks.http.answer import Answer
from airflow_provider_akinon.hooks.http.deadline import (
    POOL_CLASSES,
    WATCHDOG,
    current_watch,
    expect_answer_within,
)

#: The largest body one answer may have: a page of 1,000 orders is about 2 MB.
MAX_BODY_BYTES = 64 * 1024 * 1024
CHUNK = 1024 * 1024


class Urllib3Transport:
    """Send one request, no retries, no redirects; raise urllib3's errors for the rules to judge."""

    def __init__(self, config: AkinonConfig, *, maxsize: int = 64) -> None:
        self.headers = {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": config.user_agent,
        }
        self.config = config
        tls: dict[str, Any] = {"cert_reqs": "CERT_REQUIRED" if config.verify else "CERT_NONE"}
        if config.verify:
            tls["ca_certs"] = config.verify if isinstance(config.verify, str) else certifi.where()
        options = {"num_pools": 4, "maxsize": maxsize, "block": False, **tls}
        self.pool: urllib3.PoolManager
        if config.proxy:
            # urllib3 does not read credentials from the proxy URL, as requests does: send them as a header
            proxy = urlsplit(config.proxy)
            auth = f"{unquote(proxy.username)}:{unquote(proxy.password or '')}" if proxy.username else None
            headers = urllib3.make_headers(proxy_basic_auth=auth) if auth else None
            self.pool = urllib3.ProxyManager(redact(config.proxy), proxy_headers=headers, **options)
        else:
            self.pool = urllib3.PoolManager(**options)
        self.pool.pool_classes_by_scheme = POOL_CLASSES

    def send(
        self,
        method: str,
        url: str,
        *,
        query: Mapping[str, Any] | None = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        within: float | None = None,
    ) -> Answer:
        """
        Send one request; the answer must arrive whole within ``within`` seconds of sending (default:
        the read timeout), and connect within the connect timeout (never beyond ``within``).
        """
        if query:
            url = f"{url}{'&' if '?' in url else '?'}{urlencode(query, doseq=True)}"
        seconds = self.config.timeout if within is None else max(0.001, min(within, self.config.timeout))
        timeout = urllib3.Timeout(connect=min(self.config.connect_timeout, seconds), read=seconds)
        expect_answer_within(seconds)
        resp = None
        try:
            resp = self.pool.request(
                method,
                url,
                body=body,
                headers={**self.headers, **headers} if headers else self.headers,
                timeout=timeout,
                retries=False,
                redirect=False,
                preload_content=False,
            )
            data = self._read(resp)
        except urllib3.exceptions.HTTPError as err:
            self._give_up(resp)
            late = self._late(url, seconds)
            if late is not None:
                late.began = resp is not None
            raise late or err from None
        finally:
            watch = current_watch()
            if watch is not None:
                WATCHDOG.release(watch)
        late = self._late(url, seconds)
        if late is not None:  # the watchdog cut it: what was read may be a part
            self._give_up(resp)
            late.began = True
            raise late
        resp.release_conn()
        return Answer(resp.status, data, resp.headers)

    @staticmethod
    def _read(resp: urllib3.BaseHTTPResponse) -> bytes:
        declared = resp.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            raise BodyTooLargeError(MAX_BODY_BYTES)
        if declared and declared.isdigit():
            return resp.read()
        data = bytearray()
        while chunk := resp.read(CHUNK):
            data += chunk
            if len(data) > MAX_BODY_BYTES:
                raise BodyTooLargeError(MAX_BODY_BYTES)
        return bytes(data)

    def _late(self, url: str, seconds: float) -> AnswerTimeoutError | None:
        watch = current_watch()
        if watch is None or not watch.fired:
            return None
        return AnswerTimeoutError(None, url, f"no whole answer in {seconds:g} s")  # type: ignore[arg-type]

    @staticmethod
    def _give_up(resp: urllib3.BaseHTTPResponse | None) -> None:
        """Close a connection whose answer was not read whole: it cannot serve another request."""
        if resp is not None:
            with contextlib.suppress(Exception):
                resp.close()
            with contextlib.suppress(Exception):
                resp.release_conn()

    def close(self) -> None:
        """Close the pooled connections."""
        self.pool.clear()
