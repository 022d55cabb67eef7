"""The rules of one request, without I/O: what an answer or a failure means, and how long to wait.

Every request of the provider (sync, async, login, ``HttpHook.run``) is decided here: parse, retry,
log in again, or fail with a message that names method, path, status and a short body excerpt, and
never a header, a token or a password.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson
import urllib3

from airflow_provider_akinon.hooks.config import AkinonConfig, redact
from airflow_provider_akinon.hooks.errors import AkinonApiError, AkinonUnreachableError, excerpt
from airflow_provider_akinon.hooks.records import PageShapeError

#: Statuses worth another try: throttling and the gateway/proxy family (their bodies are often HTML).
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Methods safe to send twice; others are retried only when the request surely never arrived.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
#: Logins one request may do after 401s (threads share each login; more than one per request only
#: happens when tokens are revoked while concurrent requests are in flight).
MAX_RELOGINS = 3

RETRY = object()
RELOGIN = object()


@dataclass(frozen=True)
class Answer:
    """An HTTP answer as the transports return it: status, body bytes, headers."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Read a ``Retry-After`` header: delta seconds or an HTTP date. ``None`` when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def same_origin(url: str, base_url: str) -> bool:
    """True when ``url`` has the scheme and host:port of ``base_url``: the only place a token may go."""
    target, own = urlsplit(url), urlsplit(base_url)
    return (target.scheme, target.netloc) == (own.scheme, own.netloc)


def describe_failure(err: Exception, config: AkinonConfig) -> tuple[str, bool]:
    """A short text for a transport failure, and whether the request surely never reached the server."""
    if isinstance(err, urllib3.exceptions.NameResolutionError):
        return f"the name of {urlsplit(config.base_url).hostname} does not resolve", True
    if isinstance(err, urllib3.exceptions.NewConnectionError):
        refused = "refused" in str(err).lower()
        return ("connection refused" if refused else f"no connection ({excerpt(str(err), 80)})"), True
    if isinstance(err, urllib3.exceptions.ConnectTimeoutError):
        return f"no connection in {config.connect_timeout:g} s", True
    if isinstance(err, urllib3.exceptions.ProxyError):
        return f"the proxy {redact(config.proxy)} failed", True
    if isinstance(err, urllib3.exceptions.ReadTimeoutError):
        return f"no answer in {config.timeout:g} s", False
    return f"{type(err).__name__} ({excerpt(str(err), 120)})", False


class Attempts:
    """
    The rules of one request: each answer or failure becomes a value, ``RETRY`` (wait ``wait`` first),
    ``RELOGIN``, or an :class:`AkinonApiError`. Bounded by the retry policy's attempts and deadline.

    :param decode: how to read a 2xx body: ``True`` parses JSON, a callable decodes (a ``ValueError`` means
        a broken body, retried), ``False`` returns the :class:`Answer`.
    :param check: raise on a non-retryable error status (else return its :class:`Answer`).
    """

    def __init__(
        self,
        config: AkinonConfig,
        method: str,
        path: str,
        *,
        log: logging.Logger,
        decode: bool | Callable[[bytes], Any] = True,
        check: bool = True,
    ) -> None:
        self.config = config
        self.policy = config.retry
        self.method = method
        self.path = path
        self.idempotent = method in IDEMPOTENT_METHODS
        self.log = log
        self.decode = decode
        self.check = check
        self.started = time.monotonic()
        self.attempt = 0
        self.relogins = 0
        self.wait = 0.0
        self.reached = False  # any HTTP answer at all: the host is reachable

    def failed(self, err: Exception) -> object:
        """A transport failure: retry when safe, else raise."""
        if isinstance(err, urllib3.exceptions.SSLError):
            raise AkinonUnreachableError(
                f"TLS with {self.config.base_url} failed: {excerpt(str(err), 160)}. Check the host's "
                "certificate, REQUESTS_CA_BUNDLE, or the connection's verify extra."
            )
        problem, not_sent = describe_failure(err, self.config)
        if not (self.idempotent or not_sent):
            raise AkinonApiError(f"{self.method} {self.path}: {problem}; not retried, it may have arrived.")
        return self._retry(problem, None)

    def answered(self, answer: Answer, token: str | None) -> Any:
        """An HTTP answer: the parsed value, ``RETRY``, ``RELOGIN``, or an error."""
        self.reached = True
        status = answer.status
        if status < 300:
            if not self.decode:
                return answer
            try:
                return orjson.loads(answer.body) if self.decode is True else self.decode(answer.body)
            except PageShapeError as err:  # JSON, but not what was asked for: another try will not help
                raise AkinonApiError(f"{self.method} {self.path} -> {status}: {err}", status=status) from None
            except ValueError:  # orjson's and the page decoders' "not JSON"
                if not self.idempotent:
                    raise AkinonApiError(
                        f"{self.method} {self.path} -> {status} with a body that is not JSON"
                    ) from None
                return self._retry(f"{status} with a body that is not JSON: {excerpt(answer.body, 80)}", None)
        if status == 401 and token:
            if self.config.login and self.relogins < MAX_RELOGINS:
                self.relogins += 1
                self.log.info("%s %s -> 401; logging in again", self.method, self.path)
                return RELOGIN
            raise self.rejected(answer)
        if status == 429 or (status in RETRYABLE_STATUSES and self.idempotent):
            retry_after = parse_retry_after(answer.headers.get("Retry-After"))
            return self._retry(f"{status}: {excerpt(answer.body, 80)}", retry_after)
        if not self.check:
            return answer
        body = excerpt(answer.body)
        hint = ""
        if 300 <= status < 400:
            hint = (
                f" (a redirect to {answer.headers.get('Location')!r}, not followed so the token stays on "
                "the connection's host: set the host to the address the API answers on)"
            )
        raise AkinonApiError(f"{self.method} {self.path} -> {status}: {body}{hint}", status=status, body=body)

    def rejected(self, answer: Answer) -> AkinonApiError:
        """The error for a 401 that another login cannot fix."""
        cfg = self.config
        fix = (
            f"tokens of user {cfg.login!r} keep being rejected after {self.relogins} new logins"
            if cfg.login
            else f"the API token of connection {cfg.conn_id!r} was rejected; "
            "set a valid token or a login and password"
        )
        body = excerpt(answer.body)
        return AkinonApiError(f"{self.method} {self.path} -> 401: {body}. {fix}.", status=401, body=body)

    def _retry(self, problem: str, retry_after: float | None) -> object:
        """Count a failed try; set ``wait``, or raise when attempts or the deadline are used up."""
        self.attempt += 1
        self.wait = self.policy.wait(self.attempt, retry_after)
        spent = time.monotonic() - self.started
        if self.attempt > self.policy.max_retries or spent + self.wait > self.policy.deadline:
            if not self.reached:
                raise AkinonUnreachableError(
                    f"cannot reach {self.config.base_url}: {problem} ({self.attempt} attempts in {spent:.1f}s). "
                    "Check the connection's host and port, and that this machine can reach it "
                    "(DNS, firewall, proxy)."
                )
            raise AkinonApiError(
                f"{self.method} {self.path} failed after {self.attempt} attempts in {spent:.1f}s: {problem}. "
                "Raise max_retries or retry_deadline on the connection if the API is known to be slow."
            )
        self.log.warning(
            "%s %s -> %s; retry %d/%d in %.2fs",
            self.method,
            self.path,
            problem,
            self.attempt,
            self.policy.max_retries,
            self.wait,
        )
        return RETRY
