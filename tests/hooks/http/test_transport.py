"""The HTTP transport alone, against a loopback server: one attempt, no redirect, bounded answers."""

from __future__ import annotations

import dataclasses
import http.server
import threading
import time
from collections.abc import Iterator

import pytest

from airflow_provider_akinon.errors import AnswerTimeoutError, BodyTooLargeError
from airflow_provider_akinon.hooks.http import transport
from airflow_provider_akinon.hooks.http.transport import Urllib3Transport
from tests.hooks.http.test_rules import CONFIG


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[tuple[str, str, dict]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        Handler.seen.append(("GET", self.path, dict(self.headers)))
        if self.path.startswith("/redirect"):
            self._answer(302, b"", {"Location": "http://elsewhere.example/"})
        elif self.path.startswith("/big"):
            self._answer(200, b"x" * 5000)
        elif self.path.startswith("/chunked"):
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(5):
                self.wfile.write(b"3e8\r\n" + b"y" * 1000 + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        elif self.path.startswith("/drip"):
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            for _ in range(100):  # one byte every 50 ms: each read is quick, the whole answer is not
                self.wfile.write(b"z")
                self.wfile.flush()
                time.sleep(0.05)
        else:
            self._answer(200, b'{"ok": true}', {"X-Seen": "1"})

    def _answer(self, status: int, body: bytes, headers: dict | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture
def client() -> Iterator[Urllib3Transport]:
    sender = Urllib3Transport(dataclasses.replace(CONFIG, timeout=5, connect_timeout=2))
    yield sender
    sender.close()


def test_one_request_with_its_query_and_headers_answered_whole(server, client):
    answer = client.send("GET", f"{server}/orders/", query={"id__in": "1,2", "sort": "-id"})
    assert answer.status == 200
    assert answer.body == b'{"ok": true}'
    assert answer.headers["X-Seen"] == "1"
    _, path, headers = Handler.seen[-1]
    assert path == "/orders/?id__in=1%2C2&sort=-id"
    assert headers["Accept"] == "application/json"
    assert headers["User-Agent"].startswith("airflow-provider-akinon")


def test_a_redirect_is_answered_not_followed(server, client):
    answer = client.send("GET", f"{server}/redirect")
    assert answer.status == 302
    assert not any("elsewhere" in path for _, path, _ in Handler.seen)


def test_a_body_over_the_limit_is_refused_declared_or_chunked(server, client, monkeypatch):
    monkeypatch.setattr(transport, "MAX_BODY_BYTES", 4000)
    monkeypatch.setattr(transport, "CHUNK", 512)
    with pytest.raises(BodyTooLargeError):
        client.send("GET", f"{server}/big")
    with pytest.raises(BodyTooLargeError):
        client.send("GET", f"{server}/chunked")
    assert client.send("GET", f"{server}/").status == 200  # the pool serves on after a refused answer


def test_an_answer_that_drips_past_its_deadline_is_cut_at_the_deadline(server, client):
    # each byte comes quickly, the whole answer (5 s) never within 0.5 s: the watchdog cuts it
    with pytest.raises(AnswerTimeoutError, match=r"no whole answer in 0\.5 s"):
        client.send("GET", f"{server}/drip", within=0.5)
    assert client.send("GET", f"{server}/").status == 200
