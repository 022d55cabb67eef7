"""A deadline per answer, on the clock: a server that drips bytes cannot hold a request for ever.

urllib3's read timeout bounds each socket read, not the answer: a body that arrives one byte a second
never times out. Here one watchdog thread keeps the deadlines of requests in flight; when one passes
before its answer is read whole, the watchdog shuts the connection's socket, the blocked read returns at
once, and the transport reports "no whole answer in N s". The transport's pools make their connections
with :class:`WatchedHTTPConnection` / :class:`WatchedHTTPSConnection`, which start the watch as soon as
a request is sent; the transport ends it when the body is read.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from typing import Any

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool


class Watch:
    """One request's deadline; ``fired`` once the watchdog cut its connection."""

    __slots__ = ("conn", "deadline", "done", "fired", "seconds")

    def __init__(self, deadline: float, seconds: float, conn: Any) -> None:
        self.deadline, self.seconds, self.conn = deadline, seconds, conn
        self.done = self.fired = False


class Watchdog:
    """One thread that shuts the sockets of requests whose answer did not arrive whole in time."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Watch]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._compact_at = 4096

    def watch(self, seconds: float, conn: Any) -> Watch:
        """Watch a request just sent on ``conn``: its answer must be read whole within ``seconds``."""
        entry = Watch(time.monotonic() + seconds, seconds, conn)
        with self._cond:
            heapq.heappush(self._heap, (entry.deadline, next(self._seq), entry))
            if len(self._heap) > self._compact_at:  # answered requests wait for their deadline: drop them
                self._heap = [item for item in self._heap if not item[2].done]
                heapq.heapify(self._heap)
                self._compact_at = max(4096, 2 * len(self._heap))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="akinon-deadlines", daemon=True)
                self._thread.start()
            self._cond.notify()
        return entry

    def release(self, entry: Watch) -> None:
        """End the watch of ``entry``: its answer was read."""
        entry.done = True  # dropped from the heap when its time comes; no lock needed for a flag

    def _run(self) -> None:
        with self._cond:
            while True:
                while self._heap and self._heap[0][2].done:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait(30)
                    continue
                due = self._heap[0][0] - time.monotonic()
                if due > 0:
                    self._cond.wait(due)
                    continue
                _, _, entry = heapq.heappop(self._heap)
                if not entry.done:
                    entry.fired = True
                    sock = getattr(entry.conn, "sock", None)
                    if sock is not None:
                        with contextlib.suppress(OSError):
                            sock.shutdown(socket.SHUT_RDWR)


WATCHDOG = Watchdog()
_current = threading.local()


def expect_answer_within(seconds: float | None) -> None:
    """Requests this thread sends next must be answered whole within ``seconds`` (``None``: unwatched)."""
    _current.seconds = seconds
    _current.watch = None


def current_watch() -> Watch | None:
    """The watch of the request this thread sent last (``None`` when it was not watched)."""
    return getattr(_current, "watch", None)


class _Watched:
    def request(self, *args: Any, **kwargs: Any) -> None:
        super().request(*args, **kwargs)  # type: ignore[misc]
        seconds = getattr(_current, "seconds", None)
        _current.watch = WATCHDOG.watch(seconds, self) if seconds else None


class WatchedHTTPConnection(_Watched, HTTPConnection):
    """An HTTP connection whose every request is watched from the moment it is sent."""


class WatchedHTTPSConnection(_Watched, HTTPSConnection):
    """An HTTPS connection whose every request is watched from the moment it is sent."""


class WatchedHTTPConnectionPool(HTTPConnectionPool):
    """An HTTP connection pool whose connections are :class:`WatchedHTTPConnection`."""

    ConnectionCls = WatchedHTTPConnection


class WatchedHTTPSConnectionPool(HTTPSConnectionPool):
    """An HTTPS connection pool whose connections are :class:`WatchedHTTPSConnection`."""

    ConnectionCls = WatchedHTTPSConnection


POOL_CLASSES = {"http": WatchedHTTPConnectionPool, "https": WatchedHTTPSConnectionPool}
