"""A fake Akinon API on loopback: login, token auth, DRF-style paging and filters, and fault switches.

Use it as a context manager::

    with FakeAkinonServer(AkinonData(orders=500)) as server:
        os.environ["AIRFLOW_CONN_AKINON_DEFAULT"] = server.connection_json()

or through the ``akinon_server`` pytest fixture, or ``python -m airflow_provider_akinon.testing``.
"""

from __future__ import annotations

import bisect
import itertools
import json
import random
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import orjson

from airflow_provider_akinon.testing.data import AkinonData, parse_ts

PREFIXES = ("/api/v1/", "/api/i1/")
MAX_LIMIT = 1000
HTML_ERROR = (
    b"<html><head><title>%d Bad Gateway</title></head><body><center><h1>%d</h1></center>"
    b"<hr><center>nginx</center></body></html>"
)


@dataclass
class Faults:
    """
    Fault switches; change them at any time, from any thread. ``*_every=N`` hits every N-th data request.

    :param latency: seconds added to every data request (``latency_jitter`` adds up to that much more).
    :param throttle_every: answer 429 with ``Retry-After: retry_after`` and DRF's throttle body.
    :param error_every: answer 500/502/503/504 with an HTML body; ``error_rate`` does it at random.
    :param reset_every: close the connection without answering (connection reset).
    :param stall_every: hold the answer ``stall_seconds`` (client read timeouts).
    :param bad_json_every: answer 200 with a truncated JSON body.
    :param revoke_every: revoke every issued login token before answering (401 until a new login).
    :param foreign_next: a ``host:port`` that ``next`` links name instead of the server's own.
    :param ignore_params: query parameters the server drops silently, as DRF does with filters it
        does not know (``{"id__gt"}``: an API without keyset lookups).
    :param mutate_every: every N-th page request of a walk in progress (``page > 1`` or an ``id__gt``
        cursor) first inserts an order and modifies another (until ``mutations`` run out).
    """

    latency: float = 0.0
    latency_jitter: float = 0.0
    throttle_every: int = 0
    retry_after: str = "1"
    error_every: int = 0
    error_rate: float = 0.0
    reset_every: int = 0
    stall_every: int = 0
    stall_seconds: float = 2.0
    bad_json_every: int = 0
    revoke_every: int = 0
    foreign_next: str | None = None
    mutate_every: int = 0
    mutations: int = 1_000_000
    ignore_params: frozenset[str] = frozenset()
    seed: int = 7
    _rng: random.Random = field(default_factory=lambda: random.Random(7), repr=False)

    def every(self, n: int, count: int) -> bool:
        return n > 0 and count % n == 0


@dataclass
class Log:
    """What the server saw: requests by path, Authorization headers by host, logins, mutations."""

    requests: int = 0
    data_requests: int = 0
    logins: int = 0
    auth_headers: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    inserted: list[int] = field(default_factory=list)
    modified: list[int] = field(default_factory=list)
    faults: dict[str, int] = field(default_factory=dict)


class FakeAkinonServer:
    """
    The fake Akinon tenant, served over HTTP on 127.0.0.1.

    :param data: the tenant's data (:class:`AkinonData`).
    :param port: 0 picks a free port.
    :param users: ``{username: password}`` accepted by the login endpoints.
    :param api_token: a static token accepted besides login tokens (a ready API token).
    :param keep_log: record every path and Authorization header (tests); off for benchmarks.
    """

    def __init__(
        self,
        data: AkinonData | None = None,
        *,
        port: int = 0,
        users: dict[str, str] | None = None,
        api_token: str = "static-api-token-0123456789",
        keep_log: bool = True,
    ) -> None:
        self.data = data or AkinonData()
        self.users = users or {"akinon": "s3cret-Pa55"}
        self.api_token = api_token
        self.tokens: set[str] = set()
        #: every token ever issued (revocation empties ``tokens``, not this): for "no secret leaked" checks
        self.issued: list[str] = []
        self.faults = Faults()
        self.log = Log()
        self.keep_log = keep_log
        self._counter = itertools.count(1)
        self._walk_counter = itertools.count(1)
        self._lock = threading.Lock()
        self._query_cache: dict[tuple, list[int]] = {}
        handler = type("Handler", (_Handler,), {"server_state": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self.httpd.request_queue_size = 128
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeAkinonServer:
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, args=(0.05,), name="fake-akinon", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> FakeAkinonServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def connection_json(self, *, token: bool = False, **extra: Any) -> str:
        """An ``AIRFLOW_CONN_...`` JSON value for this server (login + password, or the static token)."""
        login, password = next(iter(self.users.items()))
        conn = {
            "conn_type": "akinon",
            "host": self.url,
            "login": None if token else login,
            "password": self.api_token if token else password,
            "extra": {"backoff": 0.01, "max_wait": 2, **extra},
        }
        return json.dumps(conn)

    def warm(self) -> None:
        """Render every order once so the first client does not pay for it (benchmarks)."""
        for order_id in self.data.ids:
            self.data.order_json(order_id)

    # ------------------------------------------------------------------ request handling
    def handle(self, handler: _Handler, method: str) -> None:
        parts = urlsplit(handler.path)
        path = parts.path
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        for ignored in self.faults.ignore_params:
            query.pop(ignored, None)
        n = next(self._counter)
        if self.keep_log:
            with self._lock:
                self.log.requests += 1
                self.log.paths.append(handler.path)
                self.log.auth_headers.append(handler.headers.get("Authorization", ""))
        prefix = next((p for p in PREFIXES if path.startswith(p)), None)
        if prefix is None:
            return handler.send_json(404, {"detail": "Not found."})
        route = path[len(prefix) :]
        if route == "auth/login/" and method == "POST":
            return self._login(handler)
        if method != "GET":
            return handler.send_json(405, {"detail": f'Method "{method}" not allowed.'})
        auth = handler.headers.get("Authorization", "")
        if not auth:
            return handler.send_json(
                401,
                {"detail": "Authentication credentials were not provided."},
                {"WWW-Authenticate": "Token"},
            )
        f = self.faults
        if self.faults.revoke_every and f.every(f.revoke_every, n):
            self._count_fault("revoke")
            self.tokens.clear()
        token = auth.removeprefix("Token ").strip()
        if token != self.api_token and token not in self.tokens:
            return handler.send_json(401, {"detail": "Invalid token."}, {"WWW-Authenticate": "Token"})
        if f.latency or f.latency_jitter:
            time.sleep(f.latency + f._rng.uniform(0, f.latency_jitter))
        if self._inject_fault(handler, n):
            return None
        handlers = {
            "orders/": self._orders,
            "order_item/detailed_integration/": self._order_items,
            "discount_items/detailed_integration/": self._discount_items,
            "oms/order_items/": self._oms_order_items,
        }
        route_handler = handlers.get(route)
        if route_handler is None:
            return handler.send_json(404, {"detail": "Not found."})
        try:
            return route_handler(handler, path, query)
        except ValueError as err:
            return handler.send_json(400, {"detail": str(err)})

    def _count_fault(self, name: str) -> None:
        with self._lock:
            self.log.faults[name] = self.log.faults.get(name, 0) + 1

    def _inject_fault(self, handler: _Handler, n: int) -> bool:
        f = self.faults
        if f.every(f.throttle_every, n):
            self._count_fault("429")
            wait = f.retry_after
            handler.send_json(
                429,
                {"detail": f"Request was throttled. Expected available in {wait} seconds."},
                {"Retry-After": wait},
            )
            return True
        if f.every(f.error_every, n) or (f.error_rate and f._rng.random() < f.error_rate):
            status = (500, 502, 503, 504)[n % 4]
            self._count_fault("5xx")
            handler.send_body(status, HTML_ERROR % (status, status), "text/html")
            return True
        if f.every(f.reset_every, n):
            self._count_fault("reset")
            handler.reset()
            return True
        if f.every(f.stall_every, n):
            self._count_fault("stall")
            time.sleep(f.stall_seconds)
        if f.every(f.bad_json_every, n):
            self._count_fault("bad_json")
            handler.send_body(200, b'{"count": 3, "next": null, "results": [{"id": 1,', "application/json")
            return True
        return False

    def _login(self, handler: _Handler) -> None:
        try:
            body = json.loads(handler.read_body() or b"{}")
        except ValueError:
            return handler.send_json(400, {"detail": "JSON parse error."})
        username, password = body.get("username"), body.get("password")
        if not username or not password:
            return handler.send_json(400, {"username": ["This field is required."]})
        if self.users.get(username) != password:
            return handler.send_json(
                400, {"non_field_errors": ["Unable to log in with provided credentials."]}
            )
        token = secrets.token_hex(20)
        with self._lock:
            self.tokens.add(token)
            self.issued.append(token)
            self.log.logins += 1
        return handler.send_json(200, {"key": token})

    # ------------------------------------------------------------------ lists
    def _maybe_mutate(self, query: dict[str, str]) -> None:
        f = self.faults
        mid_walk = int(query.get("page", 1) or 1) > 1 or "id__gt" in query
        if not (f.mutate_every and mid_walk and f.mutations > 0):
            return
        if next(self._walk_counter) % f.mutate_every:
            return
        with self.data.lock:
            f.mutations -= 1
            inserted = self.data.insert_order()
            victim = f._rng.randint(1, len(self.data.ids) - 1)
            self.data.modify_order(victim)
            self.log.inserted.append(inserted)
            self.log.modified.append(victim)

    def _orders(self, handler: _Handler, path: str, query: dict[str, str]) -> None:
        self._maybe_mutate(query)
        data = self.data
        with data.lock:
            ids = self._filter(query, data.ids, self._order_columns())
            self._send_page(handler, path, query, ids, data.order_json)

    def _order_columns(self) -> dict[str, Any]:
        d = self.data
        return {
            "created_date": d.created,
            "modified_date": d.modified,
            "date_placed": d.placed,
            "status": d.status,
            "is_send": d.is_send,
        }

    def _children(self, handler: _Handler, path: str, query: dict[str, str], render) -> None:
        order = query.get("order")
        if not order:
            raise ValueError("order: this filter is required.")
        try:
            order_id = int(order)
        except ValueError:
            raise ValueError(f"order: '{order}' is not a valid integer.") from None
        with self.data.lock:
            rows = render(order_id) if 1 <= order_id <= len(self.data.ids) else []
        by_pk = {orjson.loads(row)["pk"]: row for row in rows}
        pks = self._filter(query, sorted(by_pk), {})
        self._send_page(handler, path, query, pks, by_pk.__getitem__)

    def _order_items(self, handler: _Handler, path: str, query: dict[str, str]) -> None:
        self._children(handler, path, query, self.data.items_json)

    def _discount_items(self, handler: _Handler, path: str, query: dict[str, str]) -> None:
        self._children(handler, path, query, self.data.discounts_json)

    def _oms_order_items(self, handler: _Handler, path: str, query: dict[str, str]) -> None:
        self._maybe_mutate(query)
        data = self.data
        with data.lock:
            total = data.item_offsets[-1]
            created = [data.created[data.item_order(pk) - 1] + 0.01 for pk in range(1, total + 1)]
            modified = [data.modified[data.item_order(pk) - 1] for pk in range(1, total + 1)]
            columns = {"created_date": created, "modified_date": modified}
            pks = self._filter(query, list(range(1, total + 1)), columns)
            self._send_page(handler, path, query, pks, lambda pk: orjson.dumps(data.oms_item(pk)))

    def _filter(self, query: dict[str, str], ids: list[int], columns: dict[str, list]) -> _Span:
        """Apply django-filter style lookups and ``sort``; unknown parameters are ignored, as DRF does."""
        base_key = tuple(
            sorted((k, v) for k, v in query.items() if not k.startswith(("id", "page", "limit")))
        )
        cache_key = (id(ids), len(ids), self.data.version, base_key)
        selected = self._query_cache.get(cache_key)
        if selected is None:
            selected = self._select(query, ids, columns)
            if len(self._query_cache) > 64:
                self._query_cache.clear()
            self._query_cache[cache_key] = selected
        # id lookups on an id-sorted list are bisections: keyset walks stay cheap
        lo, hi = 0, len(selected)
        ascending = query.get("sort", "-id") in ("id", "pk")
        for key, value in query.items():
            if not key.startswith("id__"):
                continue
            bound = int(value)
            if ascending:
                if key == "id__gt":
                    lo = max(lo, bisect.bisect_right(selected, bound))
                elif key == "id__gte":
                    lo = max(lo, bisect.bisect_left(selected, bound))
                elif key == "id__lt":
                    hi = min(hi, bisect.bisect_left(selected, bound))
                elif key == "id__lte":
                    hi = min(hi, bisect.bisect_right(selected, bound))
            else:
                op = {"id__gt": "__gt__", "id__gte": "__ge__", "id__lt": "__lt__", "id__lte": "__le__"}[key]
                selected = [i for i in selected if getattr(i, op)(bound)]
        return _Span(selected, lo, hi) if ascending else _Span(selected, 0, len(selected))

    def _select(self, query: dict[str, str], ids: list[int], columns: dict[str, list]) -> list[int]:
        keep = list(range(len(ids)))
        for key, value in query.items():
            name, _, lookup = key.partition("__")
            if name in ("created_date", "modified_date", "date_placed") and name in columns:
                column = columns[name]
                bound = parse_ts(value)
                test = {
                    "gt": bound.__lt__,
                    "gte": bound.__le__,
                    "lt": bound.__gt__,
                    "lte": bound.__ge__,
                    "": bound.__eq__,
                }.get(lookup)
                if test is None:
                    continue
                keep = [i for i in keep if test(column[i])]
            elif name == "status" and "status" in columns and not lookup:
                wanted = set(value.split(","))
                keep = [i for i in keep if columns["status"][i] in wanted]
            elif name == "is_send" and "is_send" in columns and not lookup:
                flag = value.lower() in ("true", "1")
                keep = [i for i in keep if columns["is_send"][i] is flag]
            elif key == "pk__in":
                wanted = {int(v) for v in value.split(",") if v}
                keep = [i for i in keep if ids[i] in wanted]
            elif key == "number" and ids is self.data.ids:
                keep = [i for i in keep if orjson.loads(self.data.order_json(ids[i]))["number"] == value]
        selected = [ids[i] for i in keep]
        sort = query.get("sort", "-id")
        for field_name in reversed([s for s in sort.split(",") if s]):
            descending = field_name.startswith("-")
            name = field_name.lstrip("-")
            if name in ("id", "pk"):
                selected.sort(reverse=descending)
            elif name in columns:
                column = columns[name]
                position = {v: k for k, v in enumerate(ids)} if name else {}
                selected.sort(key=lambda i: column[position[i]], reverse=descending)
        return selected

    def _send_page(self, handler: _Handler, path: str, query: dict[str, str], ids: _Span, render) -> None:
        try:
            page = int(query.get("page", 1) or 1)
            limit = min(int(query.get("limit", 10) or 10), MAX_LIMIT)
        except ValueError:
            return handler.send_json(404, {"detail": "Invalid page."})
        if page < 1 or limit < 1 or (page > 1 and (page - 1) * limit >= len(ids)):
            return handler.send_json(404, {"detail": "Invalid page."})
        chunk = ids.chunk((page - 1) * limit, limit)
        host = self.faults.foreign_next or handler.headers.get("Host", f"127.0.0.1:{self.port}")

        def link(p: int) -> bytes:
            return orjson.dumps(f"http://{host}{path}?{urlencode({**query, 'page': p})}")

        nxt = link(page + 1) if page * limit < len(ids) else b"null"
        prev = link(page - 1) if page > 1 else b"null"
        body = b'{"count":%d,"next":%s,"previous":%s,"results":[%s]}' % (
            len(ids),
            nxt,
            prev,
            b",".join(render(i) for i in chunk),
        )
        handler.send_body(200, body, "application/json")


class _Span:
    """``items[lo:hi]`` without copying it: a keyset page of a 200,000-order window copies 100 ids, not all."""

    __slots__ = ("hi", "items", "lo")

    def __init__(self, items: list[int], lo: int, hi: int) -> None:
        self.items, self.lo, self.hi = items, lo, max(lo, hi)

    def __len__(self) -> int:
        return self.hi - self.lo

    def chunk(self, offset: int, limit: int) -> list[int]:
        start = self.lo + offset
        return self.items[start : min(start + limit, self.hi)]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_state: FakeAkinonServer

    def setup(self) -> None:
        super().setup()
        # one segment per answer: without it Nagle + delayed ACK add ~40 ms to every keep-alive request
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self.server_state.handle(self, "GET")

    def do_POST(self) -> None:
        self.server_state.handle(self, "POST")

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send_body(self, status: int, body: bytes, content_type: str, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self._headers_buffer.append(b"\r\n" + body)  # headers and body leave in one write
        self.flush_headers()

    def send_json(self, status: int, payload: Any, headers: dict | None = None) -> None:
        self.send_body(status, orjson.dumps(payload), "application/json", headers)

    def reset(self) -> None:
        """Drop the connection without an answer (the client sees a reset or a closed connection)."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self.close_connection = True
        self.connection.close()
