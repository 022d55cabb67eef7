"""A fake Akinon API on loopback: login, token auth, the lists, API variants and fault switches.

Use it as a context manager::

    with FakeAkinonServer(AkinonData(orders=500)) as server:
        os.environ["AIRFLOW_CONN_AKINON_DEFAULT"] = server.connection_json()
        server.api.max_limit = 100          # a tenant that caps limit silently
        server.faults.error_every = 5       # 5xx with HTML bodies

or through the ``akinon_server`` pytest fixture, or ``python -m airflow_provider_akinon.testing``.
"""

from __future__ import annotations

import bisect
import itertools
import json
import secrets
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from airflow_provider_akinon.testing.data import AkinonData
from airflow_provider_akinon.testing.drf import Lists, Span, order_columns
from airflow_provider_akinon.testing.variants import ApiVariant, Faults, FilterError, Log

PREFIXES = ("/api/v1/remote/1/data-warehouse/", "/api/v1/", "/api/i1/")
HTML_ERROR = (
    b"<html><head><title>%d Bad Gateway</title></head><body><center><h1>%d</h1></center>"
    b"<hr><center>nginx</center></body></html>"
)


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
        self.api = ApiVariant()
        self.faults = Faults()
        self.log = Log()
        self.lists = Lists(self.data, self.api)
        self.keep_log = keep_log
        self._counter = itertools.count(1)
        self._walk_counter = itertools.count(1)
        self._drip_counter = itertools.count(1)
        self._lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"server_state": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self.httpd.request_queue_size = 128
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    @property
    def port(self) -> int:
        """The port the server listens on."""
        return self.httpd.server_address[1]

    @property
    def url(self) -> str:
        """The server's base URL, ``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeAkinonServer:
        """Serve in a daemon thread; return the server."""
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, args=(0.05,), name="fake-akinon", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
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
        """Answer one request: a login, or a GET through the auth, the faults and its list's handler."""
        parts = urlsplit(handler.path)
        path = parts.path
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        for ignored in self.api.ignore_params:
            query.pop(ignored, None)
        n = next(self._counter)
        self._record(handler)
        prefix = next((p for p in PREFIXES if path.startswith(p)), None)
        if prefix is None:
            return handler.send_json(404, {"detail": "Not found."})
        route = path[len(prefix) :]
        if route == "auth/login/" and method == "POST":
            return self._login(handler)
        if method != "GET":
            return handler.send_json(405, {"detail": f'Method "{method}" not allowed.'})
        if not self._authorized(handler, n) or self._inject_fault(handler, n):
            return None
        route_handler = self.routes.get(route)
        if route_handler is None:
            return handler.send_json(404, {"detail": "Not found."})
        try:
            route_handler(handler, path, query)  # renders the page under the data's lock ...
        except FilterError as err:  # django-filter's answer: the field's errors under its name
            return handler.send_json(400, {err.field: [err.message]})
        except ValueError as err:
            return handler.send_json(400, {"detail": str(err)})
        status, body, *headers = handler.pending  # ... and it leaves outside it, however slowly
        f = self.faults
        if f.drip_every and f.every(f.drip_every, next(self._drip_counter)):
            self._count_fault("drip")
            return handler.drip(status, body, f.drip_seconds)
        return handler.send_body(status, body, "application/json", *headers)

    @property
    def routes(self) -> dict[str, Any]:
        """The handlers of the lists served, by path below the API prefix."""
        return {
            "orders/": self._orders,
            "order_item/detailed_integration/": self._order_items,
            "discount_items/detailed_integration/": self._discount_items,
            "oms/order_items/": self._oms_order_items,
            "cancellation_requests/": lambda h, p, q: self._adjacent(h, p, q, "cancellation_requests"),
            "oms/orders/": lambda h, p, q: self._adjacent(h, p, q, "oms_orders"),
            "oms/packages/": lambda h, p, q: self._adjacent(h, p, q, "oms_packages"),
            "deleted_items/": lambda h, p, q: self._adjacent(h, p, q, "deleted_items"),
        }

    def _record(self, handler: _Handler) -> None:
        if self.keep_log:
            with self._lock:
                self.log.requests += 1
                self.log.paths.append(handler.path)
                self.log.auth_headers.append(handler.headers.get("Authorization", ""))
                self.log.user_agents.append(handler.headers.get("User-Agent", ""))

    def _authorized(self, handler: _Handler, n: int) -> bool:
        """Token auth as DRF answers it (401 with ``WWW-Authenticate: Token``); the latency switch."""
        auth = handler.headers.get("Authorization", "")
        if not auth:
            detail = {"detail": "Authentication credentials were not provided."}
            handler.send_json(401, detail, {"WWW-Authenticate": "Token"})
            return False
        f = self.faults
        if f.revoke_every and f.every(f.revoke_every, n):
            self._count_fault("revoke")
            self.tokens.clear()
        token = auth.removeprefix("Token ").strip()
        if token != self.api_token and token not in self.tokens:
            handler.send_json(401, {"detail": "Invalid token."}, {"WWW-Authenticate": "Token"})
            return False
        if f.latency or f.latency_jitter:
            time.sleep(f.latency + f.rng.uniform(0, f.latency_jitter))
        return True

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
        if f.every(f.error_every, n) or (f.error_rate and f.rng.random() < f.error_rate):
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
        if f.every(f.not_a_page_every, n):
            self._count_fault("not_a_page")
            handler.send_body(200, f.not_a_page_body, "application/json")
            return True
        if f.every(f.churn_every, n):
            self._churn()
        return False

    def _churn(self) -> None:
        """A busy shop between two requests: a new order (created now), another one updated now."""
        data = self.data
        with data.lock:
            now = data.end + len(self.log.inserted)  # "now" is past every window of the data
            inserted = data.insert_order(created=now)
            victim = self.faults.rng.randint(1, len(data.ids) - 1)
            data.modify_order(victim, modified=now)
            self.log.inserted.append(inserted)
            self.log.modified.append(victim)

    def _login(self, handler: _Handler) -> None:
        raw = handler.read_body()  # read before any answer: the connection is kept alive
        with self._lock:
            fail, self.faults.login_errors = (
                self.faults.login_errors > 0,
                max(0, self.faults.login_errors - 1),
            )
        if fail:
            self._count_fault("login_503")
            return handler.send_body(503, HTML_ERROR % (503, 503), "text/html")
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return handler.send_json(400, {"detail": "JSON parse error."})
        username, password = body.get("username"), body.get("password")
        if not username or not password:
            return handler.send_json(400, {"username": ["This field is required."]})
        if self.users.get(username) != password:
            echo = {"password": [f"'{password}' is not valid."]} if self.faults.echo_login else {}
            body = orjson.dumps({"non_field_errors": ["Unable to log in with provided credentials."], **echo})
            if echo:  # and its JSON-escaped spelling too, as json.dumps writes it
                body = body[:-1] + b',"detail":' + json.dumps(password).encode() + b"}"
            return handler.send_body(400, body, "application/json")
        token = secrets.token_hex(20) + ("\r\nX-Injected: 1" if self.faults.bad_token else "")
        with self._lock:
            self.tokens.add(token)
            self.issued.append(token)
            self.log.logins += 1
        return handler.send_json(200, {"key": token})

    # ------------------------------------------------------------------ lists
    def _maybe_mutate(self, query: dict[str, str]) -> None:
        f = self.faults
        mid_walk = int(query.get("page", 1) or 1) > 1 or any(
            k in query for k in ("id__gt", "offset", "cursor")
        )
        if not (f.mutate_every and mid_walk and f.mutations > 0):
            return
        if next(self._walk_counter) % f.mutate_every:
            return
        with self.data.lock:
            f.mutations -= 1
            # writes stamp modified_date "now", past every window of the data: records leave past
            # modified_date windows, never enter them (Django's auto_now)
            now = self.data.end + len(self.log.modified) + 1
            inserted = self.data.insert_order(modified=now)
            victim = f.rng.randint(1, len(self.data.ids) - 1)
            self.data.modify_order(victim, modified=now)
            self.log.inserted.append(inserted)
            self.log.modified.append(victim)

    def _orders(self, handler: _Handler, path: str, query: dict[str, str]) -> None:
        self._maybe_mutate(query)
        data = self.data
        with data.lock:
            ids = self.lists.filter(query, data.ids, order_columns(data))
            self._send_page(handler, path, query, ids, data.order_json)

    def _children(self, handler: _Handler, path: str, query: dict[str, str], render, kind: str) -> None:
        """Children of ``order=<id>`` or ``order__in=<id>,<id>``; one of them is required unless the
        variant lists children on their own (``ApiVariant.list_children``)."""
        wanted = query.get("order__in") or query.get("order")
        if not wanted and self.api.list_children:
            return self._all_children(handler, path, query, render, kind)
        if not wanted:
            raise ValueError("order: this filter is required.")
        try:
            orders = [int(part) for part in wanted.split(",") if part]
        except ValueError:
            raise ValueError(f"order: '{wanted}' is not a valid integer.") from None
        rows: list[bytes] = []
        with self.data.lock:
            unknown = [o for o in orders if not 1 <= o <= len(self.data.ids) or o in self.data.deleted]
            if unknown and self.api.refuse_unknown_orders:
                name = "order__in" if query.get("order__in") else "order"
                raise FilterError(
                    name, "Select a valid choice. That choice is not one of the available choices."
                )
            for order_id in orders:
                rows += render(order_id) if 1 <= order_id <= len(self.data.ids) else []
        by_pk = {orjson.loads(row)["pk"]: row for row in rows}
        pks = self.lists.filter(query, sorted(by_pk), {})
        self._send_page(handler, path, query, pks, by_pk.__getitem__)

    def _all_children(self, handler: _Handler, path: str, query: dict[str, str], render, kind: str) -> None:
        """Every child of every order, filterable on its own dates (as the records give them)."""
        data = self.data
        with data.lock:
            offsets = data.item_offsets if kind == "items" else data.discount_offsets
            owners = [bisect.bisect_left(offsets, pk) for pk in range(1, offsets[-1] + 1)]
            created = [data.created[o - 1] + (0.01 if kind == "items" else 0.02) for o in owners]
            modified = [
                data.modified[o - 1] if kind == "items" else c for o, c in zip(owners, created, strict=True)
            ]
            columns = {"created_date": created, "modified_date": modified}
            pks = self.lists.filter(query, list(range(1, len(owners) + 1)), columns)

            def row(pk: int) -> bytes:
                order_id = owners[pk - 1]
                return next(r for r in render(order_id) if orjson.loads(r)["pk"] == pk)

            self._send_page(handler, path, query, pks, row)

    def _adjacent(self, handler: _Handler, path: str, query: dict[str, str], name: str) -> None:
        """An order-adjacent list (:mod:`.adjacent`); ``deleted_items`` answers a bare array, unpaged."""
        self._maybe_mutate(query)
        with self.data.lock:
            keys, columns, render = self.data.adjacent.listing(name)
            span = self.lists.filter(query, keys, columns, tag=name)
            if name == "deleted_items":
                handler.pending = (200, b"[%s]" % b",".join(render(k) for k in span.chunk(0, len(span))))
                return
            self._send_page(handler, path, query, span, render)

    def _order_items(self, handler: _Handler, path: str, query: dict[str, str]) -> None:
        self._children(handler, path, query, self.data.items_json, "items")

    def _discount_items(self, handler: _Handler, path: str, query: dict[str, str]) -> None:
        self._children(handler, path, query, self.data.discounts_json, "discounts")

    def _oms_order_items(self, handler: _Handler, path: str, query: dict[str, str]) -> None:
        self._maybe_mutate(query)
        data = self.data
        with data.lock:
            total = data.item_offsets[-1]
            created = [data.created[data.item_order(pk) - 1] + 0.01 for pk in range(1, total + 1)]
            modified = [data.modified[data.item_order(pk) - 1] for pk in range(1, total + 1)]
            columns = {"created_date": created, "modified_date": modified}
            pks = self.lists.filter(query, list(range(1, total + 1)), columns)
            self._send_page(handler, path, query, pks, lambda pk: orjson.dumps(data.oms_item(pk)))

    def _send_page(self, handler: _Handler, path: str, query: dict[str, str], ids: Span, render) -> None:
        host = self.faults.foreign_next or handler.headers.get("Host", f"127.0.0.1:{self.port}")
        handler.pending = self.lists.page(query, ids, render, f"http://{host}{path}")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_state: FakeAkinonServer
    pending: (
        tuple  # the page a route rendered (status, body[, headers]), sent once the data's lock is released
    )

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

    def drip(self, status: int, body: bytes, seconds: float) -> None:
        """Send the answer's body one byte every ``seconds`` (a server that never stops being slow)."""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            for index in range(len(body)):
                self.wfile.write(body[index : index + 1])
                self.wfile.flush()
                time.sleep(seconds)
        except OSError:  # the client gave up: as it should
            self.close_connection = True

    def reset(self) -> None:
        """Drop the connection without an answer (the client sees a reset or a closed connection)."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self.close_connection = True
        self.connection.close()
