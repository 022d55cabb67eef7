"""Token lifecycle: a ready API token, or a login shared by threads, and a new login after a 401."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

from airflow_provider_akinon.errors import AkinonApiError, AkinonConfigError
from airflow_provider_akinon.hooks.config import AkinonConfig
from airflow_provider_akinon.hooks.http.redact import Redactor

#: Login answers that mean the credentials were refused (DRF answers 400 to bad credentials).
LOGIN_REFUSED = frozenset({400, 401, 403})
#: What a token may hold to be sent in a header: visible ASCII, no spaces or control characters.
TOKEN_CHARS = re.compile(r"[!-~]+")


class _Login:
    """One login under way: the threads that wanted a token meanwhile wait for it, and share its outcome."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.token: str | None = None
        self.error: BaseException | None = None
        self.waiters = 0

    def outcome(self) -> str:
        self.done.wait()
        if self.error is not None:
            raise self.error
        assert self.token is not None
        return self.token


class TokenAuth:
    """
    The ``Authorization: Token`` value of a connection.

    With a login, ``POST {api_prefix}{login_endpoint}`` exchanges login and password for a token once;
    threads share it; after a 401 the first thread to notice logs in again and the others reuse its
    token. A login that fails fails every thread that was waiting for it, with its error: they do not
    start a login of their own each (a failing host answers within one round of retries, not one per
    thread). Without a login, the password is a ready API token. Tokens are masked in logs and cut out
    of any body quoted in a message (``redactor``); a token that cannot go in a header is refused unseen.

    :param login_call: sends the login request (with the request rules) and returns its parsed body.
    """

    def __init__(
        self,
        config: AkinonConfig,
        login_call: Callable[[dict[str, Any]], Any],
        log: Any,
        redactor: Redactor,
    ) -> None:
        self.config = config
        self.login_call = login_call
        self.log = log
        self.redactor = redactor
        self.logins = 0
        self._token: str | None = None
        self._login: _Login | None = None
        self._lock = threading.Lock()

    def token(self) -> str:
        """The current token, logging in first when there is none (or waiting for the login under way)."""
        return self._shared(lambda current: current is None)

    def refresh(self, rejected: str) -> None:
        """Replace ``rejected`` by a new login, unless another thread has done so already (or is doing it)."""
        self._shared(lambda current: current == rejected)

    def _shared(self, needs_login: Callable[[str | None], bool]) -> str:
        with self._lock:
            login, leader = self._login, False
            if login is None:
                if not needs_login(self._token):
                    assert self._token is not None
                    return self._token
                login, leader = _Login(), True
                self._login = login
            else:
                login.waiters += 1
        if leader:
            self._lead(login)
        return login.outcome()

    def _lead(self, login: _Login) -> None:
        """Log in for every thread waiting on ``login``."""
        try:
            login.token = self._obtain()
        except BaseException as err:
            login.error = err
        finally:
            with self._lock:
                self._login = None
                if login.error is None:
                    self._token = login.token
            login.done.set()

    def _obtain(self) -> str:
        cfg = self.config
        if not cfg.password:
            raise AkinonConfigError(
                f"Connection {cfg.conn_id!r} has no password; set the password (with a login) "
                "or an API token as the password (with no login)."
            )
        if not cfg.login:
            if not TOKEN_CHARS.fullmatch(cfg.password):
                raise AkinonConfigError(
                    f"The API token of connection {cfg.conn_id!r} (its password, with no login) holds spaces "
                    "or control characters, so it cannot be sent in a header; paste the token alone."
                )
            return cfg.password
        try:
            body = self.login_call({"username": cfg.login, "password": cfg.password})
        except AkinonApiError as err:
            if err.status in LOGIN_REFUSED:
                raise AkinonApiError(
                    f"login failed for user {cfg.login!r} at host {cfg.base_url}: {err.body}. "
                    "Check the connection's login and password.",
                    status=err.status,
                    body=err.body,
                ) from None
            raise
        token = (body.get("key") or body.get("token")) if isinstance(body, dict) else None
        where = f"login at {cfg.base_url}/{cfg.api_prefix}{cfg.login_endpoint}"
        if not token:
            raise AkinonApiError(f"{where} returned no 'key'; check the connection's api_prefix.")
        if not isinstance(token, str) or not TOKEN_CHARS.fullmatch(token):
            raise AkinonApiError(
                f"{where} returned a token that is not text of visible characters (control characters or "
                "spaces), which cannot be sent in a header; the login endpoint or a proxy before it is broken."
            )
        self.redactor.add(token)
        self.logins += 1
        self.log.info("Logged in to %s as %s", cfg.base_url, cfg.login)
        return token
