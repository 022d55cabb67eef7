"""The provider's one HTTP client: a keep-alive urllib3 pool, shared by threads, sending one attempt.

Chosen by measurement: requests' per-call machinery (preparing, hooks, cookies, adapters) was a third of
a page's CPU in the export profile. Proxy, CA bundle, ``verify``, timeouts and User-Agent come from the
:class:`~airflow_provider_akinon.hooks.config.AkinonConfig`; the async face of the request core runs
this same transport in a worker thread, so sync and async calls behave the same on the wire.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

import urllib3

from airflow_provider_akinon.hooks.config import AkinonConfig, redact
from airflow_provider_akinon.hooks.rules import Answer


class Urllib3Transport:
    """Send one request, no retries, no redirects; raise urllib3's errors for the rules to judge."""

    def __init__(self, config: AkinonConfig, *, maxsize: int = 64) -> None:
        self.headers = {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": config.user_agent,
        }
        self.timeout = urllib3.Timeout(connect=config.connect_timeout, read=config.timeout)
        tls: dict[str, Any] = {"cert_reqs": "CERT_REQUIRED" if config.verify else "CERT_NONE"}
        if config.verify:
            import certifi

            tls["ca_certs"] = config.verify if isinstance(config.verify, str) else certifi.where()
        options = {"num_pools": 4, "maxsize": maxsize, "block": False, **tls}
        if config.proxy:
            # urllib3 does not read credentials from the proxy URL, as requests does: send them as a header
            proxy = urlsplit(config.proxy)
            auth = f"{unquote(proxy.username)}:{unquote(proxy.password or '')}" if proxy.username else None
            headers = urllib3.make_headers(proxy_basic_auth=auth) if auth else None
            self.pool = urllib3.ProxyManager(redact(config.proxy), proxy_headers=headers, **options)
        else:
            self.pool = urllib3.PoolManager(**options)

    def send(
        self,
        method: str,
        url: str,
        *,
        query: Mapping[str, Any] | None = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        if query:
            url = f"{url}{'&' if '?' in url else '?'}{urlencode(query, doseq=True)}"
        resp = self.pool.request(
            method,
            url,
            body=body,
            headers={**self.headers, **headers} if headers else self.headers,
            timeout=self.timeout,
            retries=False,
            redirect=False,
        )
        return Answer(resp.status, resp.data, resp.headers)

    def close(self) -> None:
        self.pool.clear()
