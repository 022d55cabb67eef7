"""The ``akinon`` connection read into an :class:`AkinonConfig`, validated once, and the retry policy."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field, replace
from datetime import tzinfo
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_akinon import __version__
from airflow_provider_akinon.compat import mask_secret
from airflow_provider_akinon.errors import AkinonConfigError
from airflow_provider_akinon.hooks.extras import read_extras

USER_AGENT = f"airflow-provider-akinon/{__version__}"
#: The query parameters of the page size and the order Akinon's lists document (the probe may find others).
DEFAULT_SIZE_PARAM, DEFAULT_SORT_PARAM = "limit", "sort"
#: Records a page when nothing says otherwise (plain paging through the hook).
DEFAULT_PAGE_SIZE = 100


@dataclass(frozen=True)
class RetryPolicy:
    """
    When and how long to wait before another try of one request.

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


@dataclass(frozen=True)
class AkinonConfig:
    """
    What a hook needs from the ``akinon`` connection and the environment, read and checked once.

    ``verify`` is ``False``, ``True`` (the default CA certificates) or the path of a CA bundle;
    ``proxy`` is the proxy URL the environment names for the host, if any. ``page_size`` is ``None`` when
    neither the connection nor the caller set it: exports then use the largest page the API allows (up
    to 1,000), plain paging :data:`DEFAULT_PAGE_SIZE`. Neither the password nor the proxy (which may
    carry credentials) shows in ``repr``.
    """

    conn_id: str
    base_url: str
    api_prefix: str
    login: str | None
    password: str | None = field(repr=False)
    page_size: int | None
    timeout: float
    connect_timeout: float
    verify: bool | str
    proxy: str | None = field(repr=False)
    retry: RetryPolicy
    login_endpoint: str
    timezone: tzinfo
    #: what the probe would find, set by the connection instead (``pagination``, ``sort_param``, ``size_param``)
    paging: tuple[tuple[str, str], ...] = ()
    user_agent: str = USER_AGENT
    #: where the probe's answers are kept (``variable``, or a folder URI); ``None``: asked by every task
    probe_cache: str | None = None

    @property
    def size_param(self) -> str:
        """The query parameter of the page size before a list is probed: the ``size_param`` extra, or ``limit``."""
        return dict(self.paging).get("size_param") or DEFAULT_SIZE_PARAM

    @property
    def sort_param(self) -> str:
        """The query parameter that orders a list before it is probed: the ``sort_param`` extra, or ``sort``."""
        return dict(self.paging).get("sort_param") or DEFAULT_SORT_PARAM

    def with_retry(self, **changes: Any) -> AkinonConfig:
        """A copy with some retry settings changed (``max_retries=0`` for a connection test)."""
        return replace(self, retry=replace(self.retry, **changes))


def _base_url(conn: Any, conn_id: str) -> str:
    host = (conn.host or "").strip()
    if not host:
        raise AkinonConfigError(
            f"Connection {conn_id!r} has no host; set it to the tenant base URL, "
            "e.g. https://acme.omnitron.akinon.net"
        )
    if "://" not in host:
        if conn.schema not in ("http", "https"):
            with_port = f"{host}:{conn.port}" if conn.port and ":" not in host else host
            raise AkinonConfigError(
                f"Connection {conn_id!r} host {host!r} has no scheme; write it as https://{with_port}"
            )
        host = f"{conn.schema}://{host}"
    parts = urlsplit(host)
    if parts.username or parts.password:
        shown = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
        raise AkinonConfigError(
            f"Connection {conn_id!r} host {shown!r} carries credentials (user:password@); they would show in "
            "logs and manifests. Put them in the connection's login and password, and the host without them."
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AkinonConfigError(
            f"Connection {conn_id!r} host {host!r} is not an http(s) URL; "
            "use e.g. https://acme.omnitron.akinon.net"
        )
    netloc = parts.netloc if (parts.port or not conn.port) else f"{parts.netloc}:{conn.port}"
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"


#: extras that set what the probe would otherwise find (:meth:`Capabilities.with_settings`)
PAGING_EXTRAS = ("pagination", "sort_param", "size_param")


def _timezone(name: Any, conn_id: str) -> tzinfo:
    import pendulum

    try:
        return pendulum.timezone(str(name or "UTC"))
    except Exception:
        raise AkinonConfigError(
            f"timezone={name!r} on connection {conn_id!r} is not an IANA time zone; "
            "use e.g. UTC or Europe/Istanbul."
        ) from None


def redact(url: str | None) -> str:
    """``url`` without its ``user:password@`` part (proxy URLs may carry credentials)."""
    if not url:
        return ""
    parts = urlsplit(url)
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def _environment(base_url: str, verify: bool) -> tuple[bool | str, str | None]:
    """The CA bundle and proxy the environment names for ``base_url``, as requests would read them."""
    from requests.utils import get_environ_proxies

    proxy = get_environ_proxies(base_url).get(urlsplit(base_url).scheme)
    if proxy and urlsplit(proxy).password:
        mask_secret(urlsplit(proxy).password)
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    return (bundle if (verify and bundle) else verify), proxy


def config_from_connection(
    conn: Any, conn_id: str, *, page_size: int | None = None, max_retries: int | None = None
) -> AkinonConfig:
    """Read an Airflow connection into an :class:`AkinonConfig`; a clear error for anything unusable."""
    overrides = {"page_size": page_size, "max_retries": max_retries}
    given = {**(conn.extra_dejson or {}), **{k: v for k, v in overrides.items() if v is not None}}
    extra = read_extras(given, conn_id)  # declared once (hooks/extras.py); null and "" read as absent
    base_url = _base_url(conn, conn_id)
    retry = RetryPolicy(
        max_retries=extra["max_retries"],
        backoff=extra["backoff"],
        max_wait=extra["max_wait"],
        deadline=extra["retry_deadline"],
    )
    password = conn.password or None
    if password:
        mask_secret(password)
    verify, proxy = _environment(base_url, extra["verify"])
    return AkinonConfig(
        conn_id=conn_id,
        base_url=base_url,
        api_prefix=extra["api_prefix"].strip("/") + "/",
        login=conn.login or None,
        password=password,
        page_size=extra["page_size"],
        timeout=extra["timeout"],
        connect_timeout=extra["connect_timeout"],
        verify=verify,
        proxy=proxy,
        retry=retry,
        login_endpoint=extra["login_endpoint"],
        timezone=_timezone(extra["timezone"], conn_id),
        paging=tuple((name, extra[name]) for name in PAGING_EXTRAS if extra[name] is not None),
        probe_cache=extra["probe_cache"] or None,
    )
