"""The rules of one request, without I/O: what an answer or a failure means, and how long to wait.

Every request of the provider (sync, async, login, ``HttpHook.run``) is decided here: parse, retry,
log in again, or fail with a message that names method, path, status and a short body excerpt (with the
connection's secrets cut out), and never a header, a token or a password. A 200 that is not a page of
the list asked for is a server fault like a 5xx, never an empty page.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from enum import Enum
from typing import Any
from urllib.parse import urlsplit

import orjson
import urllib3

from airflow_provider_akinon.errors import (
    AkinonApiError,
    AkinonPageError,
    AkinonUnreachableError,
    AnswerTimeoutError,
    BodyTooLargeError,
    NotAPageError,
    PageShapeError,
    excerpt,
)
from airflow_provider_akinon.hooks.config import AkinonConfig, redact
from airflow_provider_akinon.hooks.http.answer import Answer, ReadsHeaders
from airflow_provider_akinon.hooks.http.redact import Redactor

#: Statuses worth another try: throttling and the gateway/proxy family (their bodies are often HTML).
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Methods safe to send twice; others are retried only when the request surely never arrived.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
#: Logins one request may do after 401s (threads share each login; more than one per request only
#: happens when tokens are revoked while concurrent requests are in flight).
MAX_RELOGINS = 3


class Again(Enum):
    """What the rules ask for instead of a value: the request sent again (after ``wait``), or a new login first."""

    RETRY = "retry"
    RELOGIN = "relogin"


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


def describe_failure(err: Exception, config: AkinonConfig) -> tuple[str, bool, str]:
    """
    A short text for a transport failure, whether the request surely never reached the server, and its
    kind: ``unreached`` (no connection), ``timeout`` (no whole answer in time) or ``broken``.
    """
    if isinstance(err, urllib3.exceptions.NameResolutionError):
        return f"the name of {urlsplit(config.base_url).hostname} does not resolve", True, "unreached"
    if isinstance(err, urllib3.exceptions.NewConnectionError):
        refused = "refused" in str(err).lower()
        problem = "connection refused" if refused else f"no connection ({excerpt(str(err), 80)})"
        return problem, True, "unreached"
    if isinstance(err, urllib3.exceptions.ConnectTimeoutError):
        return f"no connection in {config.connect_timeout:g} s", True, "unreached"
    if isinstance(err, urllib3.exceptions.ProxyError):
        return f"the proxy {redact(config.proxy)} failed", True, "unreached"
    if isinstance(err, AnswerTimeoutError):
        return excerpt(str(err), 80).split(": ")[-1], False, "timeout"
    if isinstance(err, urllib3.exceptions.ReadTimeoutError):
        return f"no answer in {config.timeout:g} s", False, "timeout"
    return f"{type(err).__name__} ({excerpt(str(err), 120)})", False, "broken"


class Attempts:
    """
    The rules of one request: each answer or failure becomes a value, ``Again.RETRY`` (wait ``wait``
    first), ``Again.RELOGIN``, or an :class:`~airflow_provider_akinon.errors.AkinonApiError`. Bounded by the retry
    policy's attempts and deadline.

    :param decode: how to read a 2xx body: ``True`` parses JSON, a callable decodes (a ``ValueError`` means
        a broken body or not a page, retried; a ``PageShapeError`` records that will not heal), ``False``
        returns the :class:`Answer`.
    :param check: raise on a non-retryable error status (else return its :class:`Answer`).
    :param redactor: cuts the connection's secrets out of bodies quoted in messages.
    :param reached: the host answered an earlier request (so a failure now is not a wrong address).
    """

    def __init__(
        self,
        config: AkinonConfig,
        method: str,
        path: str,
        *,
        log: Any,
        decode: bool | Callable[[bytes], Any] = True,
        check: bool = True,
        redactor: Redactor | None = None,
        reached: bool = False,
    ) -> None:
        self.config = config
        self.policy = config.retry
        self.method = method
        self.path = path
        self.idempotent = method in IDEMPOTENT_METHODS
        self.log = log
        self.decode = decode
        self.check = check
        self.excerpt = (redactor or Redactor(config.password)).excerpt
        self.started = time.monotonic()
        self.attempt = 0
        self.relogins = 0
        self.wait = 0.0
        self.reached_before = reached
        self.reached = False  # any HTTP answer to this request

    def failed(self, err: Exception) -> object:
        """A transport failure: retry when safe, else raise."""
        if isinstance(err, urllib3.exceptions.SSLError):
            raise AkinonUnreachableError(
                f"TLS with {self.config.base_url} failed: {excerpt(str(err), 160)}. Check the host's "
                "certificate, REQUESTS_CA_BUNDLE, or the connection's verify extra."
            )
        if isinstance(err, BodyTooLargeError):
            raise AkinonPageError(
                f"{self.method} {self.path}: {err}; a page of the size asked for is a few MB, so the API "
                "ignores the page size (limit). Nothing was read further; see what this list does with "
                "python -m airflow_provider_akinon.probe --endpoint ..."
            )
        problem, not_sent, kind = describe_failure(err, self.config)
        if getattr(err, "began", False):  # an answer began: the host is there, only slow
            self.reached = True
            problem = f"an answer began but did not arrive whole in {problem.split(' in ')[-1]}"
        if not (self.idempotent or not_sent):
            raise AkinonApiError(f"{self.method} {self.path}: {problem}; not retried, it may have arrived.")
        return self._retry(problem, None, kind)

    def answered(self, answer: Answer, token: str | None) -> Any:
        """An HTTP answer: the parsed value, ``Again.RETRY``, ``Again.RELOGIN``, or an error."""
        self.reached = True
        status = answer.status
        if status < 300:
            return self._decoded(answer)
        if status == 401 and token:
            if self.config.login and self.relogins < MAX_RELOGINS:
                self.relogins += 1
                self.log.info("%s %s -> 401; logging in again", self.method, self.path)
                return Again.RELOGIN
            raise self.rejected(answer)
        if status == 429 or (status in RETRYABLE_STATUSES and self.idempotent):
            retry_after = parse_retry_after(answer.headers.get("Retry-After"))
            self._check_retry_after(status, retry_after)
            kind = "throttled" if status == 429 else "server"
            return self._retry(f"{status}: {self.excerpt(answer.body, 80)}", retry_after, kind)
        if not self.check:
            return answer
        body = self.excerpt(answer.body)
        hint = ""
        if 300 <= status < 400:
            hint = (
                f" (a redirect to {answer.headers.get('Location')!r}, not followed so the token stays on "
                "the connection's host: set the host to the address the API answers on)"
            )
        raise AkinonApiError(f"{self.method} {self.path} -> {status}: {body}{hint}", status=status, body=body)

    def _decoded(self, answer: Answer) -> Any:
        if not self.decode:
            return answer
        try:
            value = orjson.loads(answer.body) if self.decode is True else self.decode(answer.body)
            if isinstance(value, ReadsHeaders):  # a paginator sees the whole answer, its headers too
                value.attach(answer.headers)
        except PageShapeError as err:  # a page, but not of this list's records: another try will not help
            raise AkinonPageError(
                f"{self.method} {self.path} -> {answer.status} but not a page of this list's records: {err}. "
                f"Received: {self.excerpt(answer.body, 120)}",
                status=answer.status,
                body=self.excerpt(answer.body),
            ) from None
        except NotAPageError as err:
            problem = f"{answer.status} but not a page of records ({err}): {self.excerpt(answer.body, 120)}"
        except ValueError:  # orjson's and the page decoders' "not JSON"
            problem = f"{answer.status} with a body that is not JSON: {self.excerpt(answer.body, 80)}"
        else:
            return value
        if not self.idempotent:
            raise AkinonApiError(f"{self.method} {self.path} -> {problem}", status=answer.status)
        return self._retry(problem, None, "server")

    def _check_retry_after(self, status: int, retry_after: float | None) -> None:
        """A ``Retry-After`` longer than the policy allows fails at once: never retried sooner than asked."""
        if retry_after is None:
            return
        left = self.policy.deadline - (time.monotonic() - self.started)
        if retry_after > self.policy.max_wait or retry_after > left:
            setting = "max_wait" if retry_after > self.policy.max_wait else "retry_deadline"
            allowed = self.policy.max_wait if setting == "max_wait" else self.policy.deadline
            raise AkinonApiError(
                f"{self.method} {self.path} -> {status} asks to wait {retry_after:g} s (Retry-After), longer "
                f"than the connection's {setting} ({allowed:g} s) allows. Not retried sooner than asked: "
                f"raise {setting} to at least {retry_after:g} to wait that long, or run again later.",
                status=status,
            )

    def rejected(self, answer: Answer) -> AkinonApiError:
        """The error for a 401 that another login cannot fix."""
        cfg = self.config
        fix = (
            f"tokens of user {cfg.login!r} keep being rejected after {self.relogins} new logins"
            if cfg.login
            else f"the API token of connection {cfg.conn_id!r} was rejected; "
            "set a valid token or a login and password"
        )
        body = self.excerpt(answer.body)
        return AkinonApiError(f"{self.method} {self.path} -> 401: {body}. {fix}.", status=401, body=body)

    def _retry(self, problem: str, retry_after: float | None, kind: str) -> object:
        """Count a failed try; set ``wait``, or raise when attempts or the deadline are used up."""
        self.attempt += 1
        self.wait = self.policy.wait(self.attempt, retry_after)
        spent = time.monotonic() - self.started
        if self.attempt > self.policy.max_retries or spent + self.wait > self.policy.deadline:
            raise self._exhausted(problem, kind, spent)
        self.log.warning(
            "%s %s -> %s; retry %d/%d in %.2fs",
            self.method,
            self.path,
            problem,
            self.attempt,
            self.policy.max_retries,
            self.wait,
        )
        return Again.RETRY

    def _exhausted(self, problem: str, kind: str, spent: float) -> AkinonApiError:
        """The error once retries are used up: what happened, and the fix that fits it."""
        tries = f"{self.attempt} attempts in {spent:.1f}s"
        base = self.config.base_url
        if kind in ("unreached", "timeout") and not (self.reached or self.reached_before):
            return AkinonUnreachableError(
                f"cannot reach {base}: {problem} ({tries}). Check the connection's host and port, and that "
                "this machine can reach it (DNS, firewall, proxy)."
            )
        if kind == "unreached":
            return AkinonUnreachableError(
                f"{base} stopped answering: {problem} ({tries}), after it had answered this task. The host "
                "or the network to it is down: run again later."
            )
        if kind == "timeout":
            return AkinonApiError(
                f"{self.method} {self.path}: {problem} ({tries}). Raise the connection's timeout if the "
                "API is known to be this slow for this request."
            )
        if kind == "broken":
            return AkinonApiError(
                f"{self.method} {self.path} failed after {tries}: the connection broke each time ({problem}). "
                "The host or a proxy before it drops connections: run again later."
            )
        if kind == "throttled":
            return AkinonApiError(
                f"{self.method} {self.path} failed after {tries}: still throttled ({problem}). Send fewer "
                "requests at once (max_concurrency, the pool's slots), or raise max_retries.",
                status=429,
            )
        return AkinonApiError(
            f"{self.method} {self.path} failed after {tries}: the server kept answering {problem}. It is "
            "failing or in maintenance: run again later, or raise max_retries / retry_deadline on the "
            "connection to wait longer."
        )
