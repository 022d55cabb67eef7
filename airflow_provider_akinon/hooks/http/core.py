"""The request core: every Akinon request, sync or async, goes through :meth:`RequestCore.call`.

One loop applies the rules of :mod:`~airflow_provider_akinon.hooks.http.rules` to attempts sent by the
transport of :mod:`~airflow_provider_akinon.hooks.http.transport`, with the token of
:mod:`~airflow_provider_akinon.hooks.http.auth`. The async face runs each attempt in a worker thread and
waits with ``asyncio.sleep``: the event loop never blocks, and both faces send the same bytes.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson
import urllib3

from airflow_provider_akinon.errors import AkinonConfigError, AkinonUnreachableError
from airflow_provider_akinon.hooks.config import AkinonConfig
from airflow_provider_akinon.hooks.http.auth import TokenAuth
from airflow_provider_akinon.hooks.http.redact import Redactor
from airflow_provider_akinon.hooks.http.rules import Again, Attempts, same_origin
from airflow_provider_akinon.hooks.http.transport import Urllib3Transport


@dataclass
class RequestStats:
    """Counters the export progress log reads: requests sent, retries, seconds spent waiting."""

    requests: int = 0
    retries: int = 0
    waited: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **deltas: float) -> None:
        """Add to the counters named (``retries=1, waited=2.0``), under the lock."""
        with self._lock:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)


@dataclass(frozen=True)
class Call:
    """One request as the caller means it; attempts repeat it."""

    method: str
    url: str
    query: Mapping[str, Any] | None = None
    body: bytes | None = None
    headers: Mapping[str, str] | None = None
    authenticate: bool = True


class RequestCore:
    """
    Send requests to one Akinon host with login, retries, ``Retry-After`` and re-login on 401.

    :param sleep: how to wait between tries (tests record waits instead of sleeping).
    :param until: a ``time.monotonic()`` instant no request may outlast (a connection test's budget).
    """

    def __init__(
        self,
        config: AkinonConfig,
        *,
        log: Any,
        sleep: Callable[[float], Any],
        until: float | None = None,
    ) -> None:
        self.config = config
        self.log = log
        self.sleep = sleep
        self.until = until
        self.stats = RequestStats()
        self.redactor = Redactor(config.password)
        self.reached = False  # the host answered a request of this core
        self.transport = Urllib3Transport(config)
        self.auth = TokenAuth(config, self._login, log, self.redactor)

    # ------------------------------------------------------------------ URLs
    def url_for(self, endpoint: str) -> str:
        """The URL of ``endpoint``: relative to ``api_prefix``, or absolute from the host root."""
        if "://" in endpoint:
            raise AkinonConfigError(
                f"Endpoint {endpoint!r} is a full URL; pass a path (orders/ or /api/v1/oms/order_items/) "
                "so the token only ever goes to the connection's host."
            )
        if endpoint.startswith("/"):
            return f"{self.config.base_url}{endpoint}"
        return f"{self.config.base_url}/{self.config.api_prefix}{endpoint}"

    # ------------------------------------------------------------------ the two faces
    def call(
        self,
        method: str,
        url: str,
        *,
        query: Mapping[str, Any] | None = None,
        json: Any = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        authenticate: bool = True,
        decode: bool | Callable[[bytes], Any] = True,
        check: bool = True,
        idempotent: bool | None = None,
    ) -> Any:
        """Send one request until the rules return a value or raise; waits with ``sleep``."""
        call = Call(
            method.upper(),
            url,
            query,
            orjson.dumps(json) if json is not None else body,
            headers,
            authenticate,
        )
        attempts = self._attempts(call, decode=decode, check=check, idempotent=idempotent)
        while True:
            outcome = self._attempt(call, attempts)
            if outcome is Again.RELOGIN:
                continue
            if outcome is not Again.RETRY:
                return outcome
            self.stats.add(retries=1, waited=attempts.wait)
            self.sleep(attempts.wait)

    async def acall(
        self,
        method: str,
        url: str,
        *,
        query: Mapping[str, Any] | None = None,
        json: Any = None,
        decode: bool | Callable[[bytes], Any] = True,
    ) -> Any:
        """The async face of :meth:`call`: each attempt in a worker thread, waits on the event loop."""
        call = Call(method.upper(), url, query, orjson.dumps(json) if json is not None else None)
        attempts = self._attempts(call, decode=decode)
        while True:
            outcome = await asyncio.to_thread(self._attempt, call, attempts)
            if outcome is Again.RELOGIN:
                continue
            if outcome is not Again.RETRY:
                return outcome
            self.stats.add(retries=1, waited=attempts.wait)
            await asyncio.sleep(attempts.wait)

    # ------------------------------------------------------------------ one attempt
    def _attempts(self, call: Call, idempotent: bool | None = None, **options: Any) -> Attempts:
        attempts = Attempts(
            self.config,
            call.method,
            urlsplit(call.url).path,
            log=self.log,
            redactor=self.redactor,
            reached=self.reached,
            **options,
        )
        if idempotent is not None:
            attempts.idempotent = idempotent
        return attempts

    def _attempt(self, call: Call, attempts: Attempts) -> Any:
        """Send ``call`` once; return the rules' verdict (a value, or what to do :class:`Again`)."""
        headers = dict(call.headers or {})
        token = None
        if call.authenticate:
            if not same_origin(call.url, self.config.base_url):  # never reached: URLs come from url_for
                raise AkinonConfigError(f"refusing to send the token to {urlsplit(call.url).netloc}")
            token = self.auth.token()
            headers["Authorization"] = f"Token {token}"
        within = None
        if self.until is not None:
            within = self.until - time.monotonic()
            if within <= 0:
                raise AkinonUnreachableError(
                    f"{call.method} {urlsplit(call.url).path}: no whole answer within the time allowed"
                )
        self.stats.add(requests=1)
        try:
            answer = self.transport.send(
                call.method, call.url, query=call.query, body=call.body, headers=headers, within=within
            )
        except urllib3.exceptions.HTTPError as err:  # refused, resets, timeouts, broken bodies
            return attempts.failed(err)
        self.reached = True
        outcome = attempts.answered(answer, token)
        if outcome is Again.RELOGIN and token is not None:
            self.auth.refresh(token)
        return outcome

    def _login(self, credentials: dict[str, Any]) -> Any:
        """The login request, under the same rules (it has no side effect, so it may be retried)."""
        url = self.url_for(self.config.login_endpoint)
        return self.call("POST", url, json=credentials, authenticate=False, idempotent=True)
