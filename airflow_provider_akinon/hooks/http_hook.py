"""What ``HttpOperator`` gets from an akinon connection: ``HttpHook``'s interface on the request core.

``HttpOperator(http_conn_id=<an akinon connection>)`` (synchronous) builds its hook from the connection
type, so it gets :class:`~airflow_provider_akinon.hooks.akinon.AkinonHook`; these methods give it
``HttpHook``'s public interface on top of the request core, so its calls log in, retry and re-login like
every other call of the provider. ``HttpSensor`` and a deferrable ``HttpOperator`` build a plain
``HttpHook`` (or ``HttpAsyncHook``) themselves and do not come here: use ``AkinonNewOrdersSensor`` or
``AkinonHook`` directly instead.
"""

from __future__ import annotations

import io
from http import HTTPStatus
from typing import Any

import requests
from airflow.providers.http.hooks.http import HttpHook

from airflow_provider_akinon.errors import AkinonApiError, AkinonConfigError, excerpt
from airflow_provider_akinon.hooks.config import AkinonConfig
from airflow_provider_akinon.hooks.http.core import RequestCore
from airflow_provider_akinon.hooks.http.rules import same_origin


class HttpHookCompat(HttpHook):
    """``run``, ``get_conn`` and ``check_response`` of ``HttpHook``, through the hook's request core."""

    # what AkinonHook provides
    @property
    def config(self) -> AkinonConfig:
        """The validated connection; :class:`~airflow_provider_akinon.hooks.akinon.AkinonHook` provides it."""
        raise NotImplementedError

    @property
    def core(self) -> RequestCore:
        """The request core; :class:`~airflow_provider_akinon.hooks.akinon.AkinonHook` provides it."""
        raise NotImplementedError

    def url_for(self, endpoint: str) -> str:
        """The URL of ``endpoint``; :class:`~airflow_provider_akinon.hooks.akinon.AkinonHook` provides it."""
        raise NotImplementedError

    def get_token(self) -> str:
        """The API token; :class:`~airflow_provider_akinon.hooks.akinon.AkinonHook` provides it."""
        raise NotImplementedError

    def run(
        self,
        endpoint: str | None = None,
        data: dict[str, Any] | str | None = None,
        headers: dict[str, Any] | None = None,
        extra_options: dict[str, Any] | None = None,
        **request_kwargs: Any,
    ) -> requests.Response:
        """
        ``HttpHook.run`` (what a synchronous ``HttpOperator`` calls) through the request core: the same
        login, retries, ``Retry-After`` and re-login as :meth:`get`. ``data`` is the query of a GET or
        HEAD, else the body (a dict is sent as JSON); ``extra_options={"check_response": False}`` returns
        error answers instead of raising.
        """
        method = self.method
        json_body = request_kwargs.pop("json", None)
        if request_kwargs:
            raise AkinonConfigError(
                f"AkinonHook.run does not take {sorted(request_kwargs)}; pass data= or json=."
            )
        query: Any = None
        body: bytes | None = None
        url = self.url_for(endpoint or "")
        if method in ("GET", "HEAD") and isinstance(data, str | bytes):  # a ready query string
            text = data.decode() if isinstance(data, bytes) else data
            url = f"{url}{'&' if '?' in url else '?'}{text.lstrip('?')}" if text else url
        elif method in ("GET", "HEAD"):
            query = data
        elif isinstance(data, str | bytes):
            body = data.encode() if isinstance(data, str) else data
        elif data is not None:
            json_body = data
        answer = self.core.call(
            method,
            url,
            query=query,
            json=json_body,
            body=body,
            headers=headers,
            decode=False,
            check=(extra_options or {}).get("check_response", True),
        )
        response = requests.Response()
        response.status_code = answer.status
        response.headers = requests.structures.CaseInsensitiveDict(answer.headers)
        response.raw = io.BytesIO(answer.body)
        response.url = url
        response.reason = _reason(answer.status)
        response.request = requests.Request(method, url).prepare()
        return response

    def get_conn(self, headers: dict[Any, Any] | None = None, extra_options: dict[str, Any] | None = None):
        """
        A ``requests.Session`` for callers that want one: the connection's TLS, proxy and headers, and its
        token only on requests to the connection's own host. The hook's own calls use the request core.
        """
        cfg = self.config
        session = requests.Session()
        session.headers.update(self.core.transport.headers)
        session.headers.update(headers or {})
        session.verify = cfg.verify
        session.proxies = {cfg.base_url.split("://")[0]: cfg.proxy} if cfg.proxy else {}
        session.trust_env = False
        session.auth = _TokenAuth(self)
        return session

    def check_response(self, response: requests.Response) -> None:
        """Raise a clear error (method, path, status, short body) for a failed ``requests`` answer."""
        if response.status_code >= 400:
            req = response.request
            path = requests.utils.urlparse(req.url or "").path
            raise AkinonApiError(
                f"{req.method} {path} -> {response.status_code}: {excerpt(response.content)}",
                status=response.status_code,
                body=excerpt(response.content),
            )


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


class _TokenAuth(requests.auth.AuthBase):
    """Adds the hook's token only to requests for the connection's own scheme and host."""

    def __init__(self, hook: HttpHookCompat) -> None:
        self.hook = hook

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if same_origin(request.url or "", self.hook.config.base_url):
            request.headers["Authorization"] = f"Token {self.hook.get_token()}"
        return request
