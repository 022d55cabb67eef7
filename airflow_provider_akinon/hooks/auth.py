"""Token lifecycle: a ready API token, or a login shared by threads, and a new login after a 401."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from airflow_provider_akinon.compat import mask_secret
from airflow_provider_akinon.hooks.config import AkinonConfig
from airflow_provider_akinon.hooks.errors import AkinonApiError, AkinonConfigError

#: Login answers that mean the credentials were refused (DRF answers 400 to bad credentials).
LOGIN_REFUSED = frozenset({400, 401, 403})


class TokenAuth:
    """
    The ``Authorization: Token`` value of a connection.

    With a login, ``POST {api_prefix}{login_endpoint}`` exchanges login and password for a token once;
    threads share it; after a 401 the first thread to notice logs in again and the others reuse its
    token. Without a login, the password is a ready API token. Tokens are masked in logs.

    :param login_call: sends the login request (with the request rules) and returns its parsed body.
    """

    def __init__(
        self, config: AkinonConfig, login_call: Callable[[dict[str, Any]], Any], log: logging.Logger
    ) -> None:
        self.config = config
        self.login_call = login_call
        self.log = log
        self.logins = 0
        self._token: str | None = None
        self._lock = threading.Lock()

    def token(self) -> str:
        """The current token, logging in first when there is none."""
        with self._lock:
            if self._token is None:
                self._token = self._obtain()
            return self._token

    def refresh(self, rejected: str) -> None:
        """Replace ``rejected`` by a new login, unless another thread has done so already."""
        with self._lock:
            if self._token == rejected:
                self._token = self._obtain()

    def _obtain(self) -> str:
        cfg = self.config
        if not cfg.password:
            raise AkinonConfigError(
                f"Connection {cfg.conn_id!r} has no password; set the password (with a login) "
                "or an API token as the password (with no login)."
            )
        if not cfg.login:
            mask_secret(cfg.password)
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
        if not token:
            raise AkinonApiError(
                f"login at {cfg.base_url}/{cfg.api_prefix}{cfg.login_endpoint} returned no 'key'; "
                "check the connection's api_prefix."
            )
        mask_secret(token)
        self.logins += 1
        self.log.info("Logged in to %s as %s", cfg.base_url, cfg.login)
        return token
