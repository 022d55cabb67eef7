"""AkinonHook: login and token, one request + retry core, lazy pagination over Omnitron and OMS lists."""

from __future__ import annotations

import email.utils
import os
import random
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson
import requests
import urllib3
from airflow.providers.http.hooks.http import HttpHook
from requests.adapters import HTTPAdapter

from airflow_provider_akinon import CONN_FIELDS, UI_FIELD_BEHAVIOUR, __version__
from airflow_provider_akinon._compat import AirflowException, mask_secret
from airflow_provider_akinon.resources import DISCOUNT_ITEMS, OMS_ORDER_ITEMS, ORDER_ITEMS, ORDERS

#: Statuses worth another try: throttling and the gateway/proxy family (their bodies are often HTML).
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
_USER_AGENT = f"airflow-provider-akinon/{__version__}"
#: Login answers that mean the credentials were refused (DRF answers 400 to bad credentials).
LOGIN_REFUSED = frozenset({400, 401, 403})
#: Logins one request may do after 401s. Each 401 costs at most one login (threads share it); more
#: than one per request only happens when tokens are revoked while concurrent requests are in flight.
MAX_RELOGINS = 3
#: The connection extras this provider reads; none of them is ever sent as an HTTP header.
OWN_EXTRAS = frozenset(CONN_FIELDS) | {"backoff", "max_wait", "retry_deadline", "login_endpoint"}


class AkinonApiError(AirflowException):
    """An Akinon call failed; the message names method, path, status and a short body excerpt."""

    def __init__(self, message: str, *, status: int | None = None, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class AkinonConfigError(AirflowException):
    """The ``akinon`` connection or an argument is unusable; the message says how to fix it."""


def excerpt(text: str | bytes, limit: int = 200) -> str:
    """Return a one-line, bounded excerpt of a response body for error messages."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


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


@dataclass(frozen=True)
class RetryPolicy:
    """
    When and how long to wait before another try; shared by the sync hook and the async trigger.

    :param max_retries: retries after the first attempt.
    :param backoff: base of the exponential backoff, in seconds.
    :param max_wait: cap of one wait, ``Retry-After`` included.
    :param deadline: cap of all waiting and trying for one request, in seconds.
    """

    max_retries: int = 6
    backoff: float = 1.0
    max_wait: float = 120.0
    deadline: float = 900.0

    def wait(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry ``attempt`` (1-based): jittered exponential, never below Retry-After."""
        exp = min(self.max_wait, self.backoff * 2 ** (attempt - 1))
        jittered = exp * random.uniform(0.5, 1.0)
        if retry_after is not None:
            jittered = max(jittered, retry_after)
        return min(jittered, self.max_wait)


@dataclass
class RequestStats:
    """Counters the export progress log reads: requests sent, retries, seconds spent waiting."""

    requests: int = 0
    retries: int = 0
    waited: float = 0.0
    logins: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **deltas: float) -> None:
        with self._lock:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)


@dataclass(frozen=True)
class AkinonConfig:
    """What the hook needs from the ``akinon`` connection, validated once."""

    base_url: str
    api_prefix: str
    login: str | None
    password: str | None
    page_size: int
    timeout: float
    verify: bool
    retry: RetryPolicy
    login_endpoint: str


def _as_bool(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).strip().lower() not in {"false", "0", "no", "off"}


def _positive(name: str, value: Any, cast: type, conn_id: str, minimum: float = 1) -> Any:
    try:
        number = cast(value)
    except (TypeError, ValueError):
        raise AkinonConfigError(
            f"{name}={value!r} on connection {conn_id!r} is not a number; set it to a {cast.__name__} "
            f">= {minimum}."
        ) from None
    if number < minimum:
        raise AkinonConfigError(f"{name} must be >= {minimum}, got {number!r} (connection {conn_id!r}).")
    return number


class AkinonHook(HttpHook):
    """
    Interact with Akinon's Omnitron and OMS REST APIs.

    The ``akinon`` connection: host is the tenant base URL (``https://acme.omnitron.akinon.net``); login and
    password are exchanged for a token at ``{api_prefix}auth/login/``; a password with no login is used as
    a ready API token. Extras: ``api_prefix`` (``api/v1/``), ``page_size`` (100), ``timeout`` (60),
    ``max_retries`` (6), ``verify`` (true), and for tuning ``backoff``, ``max_wait``, ``retry_deadline``.

    The token is sent only to the connection's own scheme and host, and is masked in logs.
    ``HttpOperator(http_conn_id=<an akinon connection>)`` gets this hook, so its requests log in too.

    :param akinon_conn_id: the :ref:`akinon connection <howto/connection:akinon>` to use.
    :param page_size: records per page; overrides the connection's ``page_size``.
    :param max_retries: overrides the connection's ``max_retries``.
    """

    conn_name_attr = "akinon_conn_id"
    default_conn_name = "akinon_default"
    conn_type = "akinon"
    hook_name = "Akinon"

    def __init__(
        self,
        akinon_conn_id: str = default_conn_name,
        *,
        page_size: int | None = None,
        max_retries: int | None = None,
        method: str = "GET",
        http_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        # ``http_conn_id`` is accepted so HttpOperator/HttpSensor can build this hook for an akinon connection.
        conn_id = http_conn_id or akinon_conn_id
        super().__init__(method=method, http_conn_id=conn_id, **kwargs)
        self.akinon_conn_id = conn_id
        self._page_size_override = page_size
        self._max_retries_override = max_retries
        self._token: str | None = None
        self._token_lock = threading.Lock()
        self.stats = RequestStats()
        #: Replaceable in tests so waits are recorded instead of slept.
        self.sleep = time.sleep

    # ------------------------------------------------------------------ connection form
    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Connection form widgets for Airflow versions before the declarative ``conn-fields``."""
        from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
        from flask_babel import lazy_gettext
        from wtforms import BooleanField, IntegerField, StringField

        kinds = {"integer": IntegerField, "boolean": BooleanField}
        widgets = {}
        for name, spec in CONN_FIELDS.items():
            kind = spec["schema"]["type"][0]
            field_cls = kinds.get(kind, StringField)
            kwargs = {"description": spec["description"], "default": spec["schema"].get("default")}
            if field_cls is not BooleanField:
                kwargs["widget"] = BS3TextFieldWidget()
            widgets[name] = field_cls(lazy_gettext(spec["label"]), **kwargs)
        return widgets

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Hidden fields, labels and placeholders for Airflow versions before the declarative form."""
        return {
            "hidden_fields": UI_FIELD_BEHAVIOUR["hidden-fields"],
            "relabeling": UI_FIELD_BEHAVIOUR["relabeling"],
            "placeholders": UI_FIELD_BEHAVIOUR["placeholders"],
        }

    # ------------------------------------------------------------------ configuration
    @cached_property
    def config(self) -> AkinonConfig:
        """Read and validate the connection once: clear errors before any request is sent."""
        conn_id = self.akinon_conn_id
        conn = self.get_connection(conn_id)
        host = (conn.host or "").strip()
        if not host:
            raise AkinonConfigError(
                f"Connection {conn_id!r} has no host; set it to the tenant base URL, "
                "e.g. https://acme.omnitron.akinon.net"
            )
        if "://" not in host:
            if conn.schema in ("http", "https"):
                host = f"{conn.schema}://{host}"
            else:
                raise AkinonConfigError(
                    f"Connection {conn_id!r} host {host!r} has no scheme; write it as https://{host}"
                )
        parts = urlsplit(host)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise AkinonConfigError(
                f"Connection {conn_id!r} host {host!r} is not an http(s) URL; "
                "use e.g. https://acme.omnitron.akinon.net"
            )
        netloc = parts.netloc if (parts.port or not conn.port) else f"{parts.netloc}:{conn.port}"
        extra = conn.extra_dejson
        api_prefix = str(extra.get("api_prefix") or "api/v1/").strip("/") + "/"
        page_size = (
            self._page_size_override if self._page_size_override is not None else extra.get("page_size", 100)
        )
        retry = RetryPolicy(
            max_retries=_positive(
                "max_retries",
                self._max_retries_override
                if self._max_retries_override is not None
                else extra.get("max_retries", RetryPolicy.max_retries),
                int,
                conn_id,
                minimum=0,
            ),
            backoff=_positive("backoff", extra.get("backoff", RetryPolicy.backoff), float, conn_id, 0),
            max_wait=_positive("max_wait", extra.get("max_wait", RetryPolicy.max_wait), float, conn_id, 0),
            deadline=_positive(
                "retry_deadline", extra.get("retry_deadline", RetryPolicy.deadline), float, conn_id, 0
            ),
        )
        password = conn.password or None
        if password:
            mask_secret(password)
        return AkinonConfig(
            base_url=f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}",
            api_prefix=api_prefix,
            login=conn.login or None,
            password=password,
            page_size=_positive("page_size", page_size, int, conn_id),
            timeout=_positive("timeout", extra.get("timeout", 60), float, conn_id, 0.001),
            verify=_as_bool(extra.get("verify", True)),
            retry=retry,
            login_endpoint=str(extra.get("login_endpoint") or "auth/login/"),
        )

    @property
    def host(self) -> str:
        """The scheme and host the token may be sent to."""
        return self.config.base_url

    def url_for(self, endpoint: str) -> str:
        """Build the URL of ``endpoint``: relative to ``api_prefix``, or absolute from the host root."""
        if "://" in endpoint:
            raise AkinonConfigError(
                f"Endpoint {endpoint!r} is a full URL; pass a path (orders/ or /api/v1/oms/order_items/) "
                "so the token only ever goes to the connection's host."
            )
        if endpoint.startswith("/"):
            return f"{self.config.base_url}{endpoint}"
        return f"{self.config.base_url}/{self.config.api_prefix}{endpoint}"

    def path_of(self, url: str) -> str:
        return urlsplit(url).path

    # ------------------------------------------------------------------ session and token
    @cached_property
    def session(self) -> requests.Session:
        """One keep-alive session per hook, shared by its threads (pooled connections)."""
        session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=64, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers.update({"Accept": "application/json", "Content-Type": "application/json"})
        # The environment (proxies, CA bundle) is read once here, not on every request: requests
        # re-reads os.environ per call otherwise, a measurable share of a page's CPU time.
        base_url = self.config.base_url
        session.proxies = requests.utils.get_environ_proxies(base_url)
        ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        session.verify = ca_bundle if (self.config.verify and ca_bundle) else self.config.verify
        session.trust_env = False
        return session

    @cached_property
    def _pool(self) -> urllib3.PoolManager:
        """
        The request core's connection pool: urllib3 directly, one keep-alive pool shared by threads.

        requests' per-call machinery (preparing, hooks, cookies, adapters) was a third of a page's CPU
        in the export profile; the requests ``session`` remains for ``HttpHook.run`` and HttpOperator.
        Proxies and the CA bundle come from the environment, as requests would read them.
        """
        verify = self.session.verify
        tls: dict[str, Any] = {"cert_reqs": "CERT_REQUIRED" if verify else "CERT_NONE"}
        if verify:
            import certifi

            tls["ca_certs"] = verify if isinstance(verify, str) else certifi.where()
        options = {"num_pools": 4, "maxsize": 64, "block": False, **tls}
        proxy = self.session.proxies.get(urlsplit(self.config.base_url).scheme)
        return urllib3.ProxyManager(proxy, **options) if proxy else urllib3.PoolManager(**options)

    @cached_property
    def _headers(self) -> dict[str, str]:
        return {"Accept": "application/json", "Content-Type": "application/json", "User-Agent": _USER_AGENT}

    @cached_property
    def _timeout(self) -> urllib3.Timeout:
        return urllib3.Timeout(connect=self.config.timeout, read=self.config.timeout)

    def get_conn(self, headers: dict[Any, Any] | None = None, extra_options: dict[str, Any] | None = None):
        """
        Return the hook's session, authenticated for the connection's host (used by ``HttpHook.run``).

        Unlike ``HttpHook``, the connection's extras are never turned into headers.
        """
        self.base_url = self.config.base_url + "/" + self.config.api_prefix.rstrip("/")
        self._base_url_initialized = True
        self.merged_extra = {"timeout": self.config.timeout, **(extra_options or {})}
        self.session.auth = _TokenAuth(self)
        return self.session

    def get_token(self) -> str:
        """Return the cached API token, logging in first when needed."""
        with self._token_lock:
            if self._token is None:
                self._token = self._login()
            return self._token

    def _refresh_token(self, rejected: str) -> bool:
        """After a 401 with ``rejected``: log in again once (threads share one login). False when impossible."""
        if not self.config.login:
            return False
        with self._token_lock:
            if self._token == rejected:
                self._token = self._login()
        return True

    def _login(self) -> str:
        token = self._ready_token()
        if token:
            return token
        cfg = self.config
        url = self.url_for(cfg.login_endpoint)
        try:
            body = self._send(
                "POST", url, json_body={"username": cfg.login, "password": cfg.password}, auth=False
            )
        except AkinonApiError as err:
            if err.status in LOGIN_REFUSED:
                raise self._login_refused(err.status, err.body) from None
            raise
        return self._accept_login(body, url)

    def _ready_token(self) -> str | None:
        """The password as a ready API token when the connection has no login; ``None`` when one is due."""
        cfg = self.config
        if not cfg.password:
            raise AkinonConfigError(
                f"Connection {self.akinon_conn_id!r} has no password; set the password (with a login) "
                "or an API token as the password (with no login)."
            )
        if cfg.login:
            return None
        mask_secret(cfg.password)
        return cfg.password

    def _login_refused(self, status: int, body: str) -> AkinonApiError:
        cfg = self.config
        return AkinonApiError(
            f"login failed for user {cfg.login!r} at host {cfg.base_url}: {body}. "
            "Check the connection's login and password.",
            status=status,
            body=body,
        )

    def _accept_login(self, body: Any, url: str) -> str:
        """Take the token out of a login answer: masked, counted, logged; a clear error without one."""
        cfg = self.config
        token = body.get("key") or body.get("token") if isinstance(body, dict) else None
        if not token:
            raise AkinonApiError(
                f"login at {cfg.base_url}{self.path_of(url)} returned no 'key'; "
                "check the connection's api_prefix."
            )
        mask_secret(token)
        self.stats.add(logins=1)
        self.log.info("Logged in to %s as %s", cfg.base_url, cfg.login)
        return token

    # ------------------------------------------------------------------ the request core
    def request(
        self, method: str, endpoint: str, *, params: Mapping[str, Any] | None = None, json: Any = None
    ):
        """Send one request to ``endpoint`` with login, retries and re-login; return the parsed JSON."""
        return self._send(method.upper(), self.url_for(endpoint), params=params, json_body=json)

    def get(self, endpoint: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET ``endpoint`` (relative to ``api_prefix``, or absolute from the host root) as parsed JSON."""
        return self.request("GET", endpoint, params=params)

    def _send(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        auth: bool = True,
    ) -> Any:
        data = orjson.dumps(json_body) if json_body is not None else None
        attempts = _Attempts(self, method, self.path_of(url))
        while True:
            token = self.get_token() if auth else None
            headers = {"Authorization": f"Token {token}"} if token else None
            self.stats.add(requests=1)
            try:
                resp = self._pool.request(
                    method,
                    url,
                    fields=params if method == "GET" else None,
                    body=data,
                    headers={**self._headers, **headers} if headers else self._headers,
                    timeout=self._timeout,
                    retries=False,
                    redirect=False,
                )
            except urllib3.exceptions.HTTPError as err:  # resets, refused, timeouts, broken bodies
                outcome = attempts.failed(err)
            else:
                content = resp.data
                outcome = attempts.answered(resp.status, content, resp.headers.get("Retry-After"), token)
            if outcome is _RELOGIN:
                if self._refresh_token(token):
                    continue
                outcome = attempts.answered(401, content, None, token, relogin=False)
            if outcome is not _RETRY:
                return outcome
            self.sleep(attempts.wait)

    async def aget(self, endpoint: str, params: Mapping[str, Any] | None = None) -> Any:
        """
        Async GET for triggers: the rules of :meth:`get` (login, re-login on 401, retries, Retry-After).

        Reads the connection in a thread: Airflow 3 triggerers must not block their event loop.
        """
        import asyncio

        import aiohttp
        from asgiref.sync import sync_to_async

        cfg = await sync_to_async(lambda: self.config)()
        url = self.url_for(endpoint)
        query = {k: str(v) for k, v in (params or {}).items()}
        attempts = _Attempts(self, "GET", self.path_of(url))
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=cfg.timeout)) as session:
            while True:
                if self._token is None:
                    self._token = await self._alogin(session)
                token = self._token
                self.stats.add(requests=1)
                try:
                    async with session.get(
                        url, params=query, headers={"Authorization": f"Token {token}"}, ssl=cfg.verify
                    ) as resp:
                        status, body, header = resp.status, await resp.read(), resp.headers.get("Retry-After")
                except (TimeoutError, aiohttp.ClientError) as err:
                    outcome = attempts.failed(err)
                else:
                    outcome = attempts.answered(status, body, header, token, relogin=bool(cfg.login))
                if outcome is _RELOGIN:
                    self._token = None
                    continue
                if outcome is not _RETRY:
                    return outcome
                await asyncio.sleep(attempts.wait)

    async def _alogin(self, session: Any) -> str:
        """The async face of :meth:`_login` (no retries: the trigger polls again anyway)."""
        token = self._ready_token()
        if token:
            return token
        cfg = self.config
        url = self.url_for(cfg.login_endpoint)
        async with session.post(
            url, json={"username": cfg.login, "password": cfg.password}, ssl=cfg.verify
        ) as resp:
            status, content = resp.status, await resp.read()
        if status in LOGIN_REFUSED:
            raise self._login_refused(status, excerpt(content))
        if status >= 300:
            raise AkinonApiError(f"POST {self.path_of(url)} -> {status}: {excerpt(content)}", status=status)
        try:
            body = orjson.loads(content)
        except orjson.JSONDecodeError:
            body = None
        return self._accept_login(body, url)

    def check_response(self, response: requests.Response) -> None:
        """Raise a clear error (method, path, status, short body) for ``HttpHook.run`` callers."""
        if response.status_code >= 400:
            req = response.request
            raise AkinonApiError(
                f"{req.method} {self.path_of(req.url or '')} -> {response.status_code}: "
                f"{excerpt(response.content)}",
                status=response.status_code,
                body=excerpt(response.content),
            )

    # ------------------------------------------------------------------ pagination
    def iter_pages(
        self, endpoint: str, params: Mapping[str, Any] | None = None, *, page_size: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """
        Yield the envelopes (``count``, ``next``, ``results``) of a list, one page at a time.

        Sends ``page`` and ``limit`` and ``sort=id`` unless ``params`` sorts. Follows ``next`` by its query
        string only (never its host), or by ``page + 1``; ends on ``next: null`` or a 404 "Invalid page.".
        """
        size = self._page_size(page_size)
        query: dict[str, Any] = {"sort": "id", **(params or {}), "limit": size}
        query.setdefault("page", 1)
        url = self.url_for(endpoint)
        while True:
            try:
                body = self._send("GET", url, params=query)
            except AkinonApiError as err:
                if err.status == 404 and int(query["page"]) > 1 and "invalid page" in err.body.lower():
                    return
                raise
            if isinstance(body, list):  # a plain list: one page, no envelope
                yield {"count": len(body), "next": None, "previous": None, "results": body}
                return
            yield body
            if not body.get("next") or not body.get("results"):
                return
            query = self._next_query(body["next"], query)

    @staticmethod
    def _next_query(next_url: str, current: dict[str, Any]) -> dict[str, Any]:
        """The next page's query: ``next``'s query string if it moves on, else the current page + 1."""
        following = dict(parse_qsl(urlsplit(next_url).query, keep_blank_values=True))
        if "page" in following and str(following["page"]) != str(current["page"]):
            return {**current, **following}
        return {**current, "page": int(current["page"]) + 1}

    def paginate(
        self, endpoint: str, params: Mapping[str, Any] | None = None, *, page_size: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Yield the records of a list lazily across pages; memory holds one page at a time."""
        for page in self.iter_pages(endpoint, params, page_size=page_size):
            yield from page.get("results") or ()

    def _page_size(self, page_size: int | None) -> int:
        if page_size is None:
            return self.config.page_size
        if not isinstance(page_size, int) or page_size < 1:
            raise AkinonConfigError(f"page_size must be a positive integer, got {page_size!r}.")
        return page_size

    # ------------------------------------------------------------------ convenience
    def get_order_by_number(self, number: str) -> dict[str, Any]:
        """Return the order with this ``number``; raise if there is none."""
        page = self.get(ORDERS.endpoint, {"number": number, "limit": 1})
        results = page.get("results") or []
        if not results or str(results[0].get("number")) != str(number):
            raise AkinonApiError(f"No order with number {number!r} at {self.config.base_url}.", status=404)
        return results[0]

    def iter_orders(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """Yield orders matching ``filters`` (``status``, ``created_date__gte``, ...), sorted by id."""
        return self.paginate(ORDERS.endpoint, filters)

    def iter_order_items(self, order_id: int) -> Iterator[dict[str, Any]]:
        """Yield the detailed order items of one order."""
        return self.paginate(ORDER_ITEMS.endpoint, {ORDER_ITEMS.parent_param: order_id})

    def iter_discount_items(self, order_id: int) -> Iterator[dict[str, Any]]:
        """Yield the discount items of one order."""
        return self.paginate(DISCOUNT_ITEMS.endpoint, {DISCOUNT_ITEMS.parent_param: order_id})

    def iter_oms_order_items(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """Yield OMS order items (use a hook on the OMS connection: OMS lives on its own host)."""
        return self.paginate(OMS_ORDER_ITEMS.endpoint, filters)

    def test_connection(self) -> tuple[bool, str]:
        """Log in and read one order: ``(True, message)`` when the API answers."""
        try:
            page = self.get(ORDERS.endpoint, {"limit": 1})
        except Exception as err:
            return False, str(err)
        return True, f"Connected to {self.config.base_url}: {page.get('count', '?')} orders visible."


_RETRY = object()
_RELOGIN = object()


class _Attempts:
    """
    The rules of one request, shared by the sync and async faces of the hook: what an answer means
    (parsed JSON, retry, log in again, or a clear error) and how long to wait before the next try.
    """

    def __init__(self, hook: AkinonHook, method: str, path: str) -> None:
        self.hook = hook
        self.method = method
        self.path = path
        self.policy = hook.config.retry
        self.started = time.monotonic()
        self.attempt = 0
        self.relogins = 0
        self.wait = 0.0

    def failed(self, err: Exception) -> object:
        return self._retry(f"{type(err).__name__} ({excerpt(str(err), 120)})", None)

    def answered(
        self, status: int, content: bytes, retry_after: str | None, token: str | None, *, relogin: bool = True
    ) -> Any:
        if status < 300:
            try:
                return orjson.loads(content)
            except orjson.JSONDecodeError:
                return self._retry(f"200 with a body that is not JSON: {excerpt(content, 80)}", None)
        if status == 401 and token:
            if relogin and self.relogins < MAX_RELOGINS:
                self.relogins += 1
                self.hook.log.info("%s %s -> 401; logging in again", self.method, self.path)
                return _RELOGIN
            cfg = self.hook.config
            fix = (
                f"tokens of user {cfg.login!r} keep being rejected after {self.relogins} new logins"
                if cfg.login
                else f"the API token of connection {self.hook.akinon_conn_id!r} was rejected; "
                "set a valid token or a login and password"
            )
            raise AkinonApiError(
                f"{self.method} {self.path} -> 401: {excerpt(content)}. {fix}.",
                status=401,
                body=excerpt(content),
            )
        if status in RETRYABLE_STATUSES:
            return self._retry(f"{status}: {excerpt(content, 80)}", parse_retry_after(retry_after))
        body = excerpt(content)
        raise AkinonApiError(f"{self.method} {self.path} -> {status}: {body}", status=status, body=body)

    def _retry(self, problem: str, retry_after: float | None) -> object:
        """Count a failed try; set ``wait`` or raise when attempts or the deadline are used up."""
        self.attempt += 1
        self.wait = self.policy.wait(self.attempt, retry_after)
        spent = time.monotonic() - self.started
        if self.attempt > self.policy.max_retries or spent + self.wait > self.policy.deadline:
            raise AkinonApiError(
                f"{self.method} {self.path} failed after {self.attempt} attempts in {spent:.1f}s: {problem}. "
                "Raise max_retries or retry_deadline on the connection if the API is known to be slow."
            )
        self.hook.log.warning(
            "%s %s -> %s; retry %d/%d in %.2fs",
            self.method,
            self.path,
            problem,
            self.attempt,
            self.policy.max_retries,
            self.wait,
        )
        self.hook.stats.add(retries=1, waited=self.wait)
        return _RETRY


class _TokenAuth(requests.auth.AuthBase):
    """Adds the hook's token only to requests for the connection's own scheme and host."""

    def __init__(self, hook: AkinonHook) -> None:
        self.hook = hook

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        target = urlsplit(request.url or "")
        own = urlsplit(self.hook.config.base_url)
        if (target.scheme, target.netloc) == (own.scheme, own.netloc):
            request.headers["Authorization"] = f"Token {self.hook.get_token()}"
        return request
