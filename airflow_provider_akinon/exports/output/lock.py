"""The publish lock of one destination: created exclusively, kept fresh by a heartbeat, broken when dead.

``{destination}/_publish.lock`` is created with an exclusive create (``O_EXCL`` on local disks, a
conditional ``If-None-Match: *`` PUT on S3) and holds ``{"token", "host", "pid", "at"}``. While held, a
heartbeat thread rewrites it every few seconds, whole (a local file is renamed over, an object replaced),
so a reader never finds it empty. A waiter breaks it at once when its owner was a process
of this machine that no longer exists, and otherwise when the heartbeat stopped for ``stale_after``
(another machine's run died). A waiter gives up after ``max_wait`` with an error naming the owner.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson

from airflow_provider_akinon.errors import DestinationError

log = logging.getLogger(__name__)

LOCK = "_publish.lock"


def process_is_gone(owner: dict[str, Any]) -> bool:
    """True when ``owner`` (``host`` and ``pid``) was a process of this machine that no longer exists."""
    if owner.get("host") != socket.gethostname() or not isinstance(owner.get("pid"), int):
        return False
    try:
        os.kill(owner["pid"], 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


class PublishLock:
    """
    Hold ``{folder}/_publish.lock`` while publishing into ``folder``.

    :param fs: the folder's fsspec filesystem; ``path`` is the lock's path on it.
    :param token: this run's token, written into the lock.
    :param stale_after: seconds without a heartbeat after which another machine's lock is dead.
    :param max_wait: seconds to wait for a live publisher before giving up.
    """

    def __init__(
        self, fs: Any, path: str, token: str, *, stale_after: float = 120.0, max_wait: float = 600.0
    ) -> None:
        self.fs = fs
        self.path = path
        self.token = token
        self.stale_after = stale_after
        self.max_wait = max_wait
        self.beat_every = max(0.05, stale_after / 8)

    def _identity(self) -> bytes:
        owner = {"token": self.token, "host": socket.gethostname(), "pid": os.getpid(), "at": time.time()}
        return orjson.dumps(owner)

    def owner(self) -> dict[str, Any] | None:
        """What the lock says of its owner (``None``: no lock, or not readable yet)."""
        self.fs.invalidate_cache(self.path)
        try:
            with self.fs.open(self.path, "rb") as handle:
                owner = orjson.loads(handle.read())
        except (FileNotFoundError, orjson.JSONDecodeError):
            return None
        return owner if isinstance(owner, dict) else None

    def _age(self) -> float:
        try:
            return (datetime.now(UTC) - self.fs.modified(self.path).astimezone(UTC)).total_seconds()
        except FileNotFoundError:
            return 0.0

    def _create(self) -> bool:
        try:
            with self.fs.open(self.path, "xb") as out:
                out.write(self._identity())
        except FileExistsError:
            return False
        return True

    def _dead(self, owner: dict[str, Any] | None) -> str | None:
        """Why the lock's owner is dead, or ``None`` while it may be alive."""
        if owner is not None and process_is_gone(owner):
            return f"its process {owner['pid']} on this machine is gone"
        if self._age() > self.stale_after:
            return f"no heartbeat for {self.stale_after:g} s"
        return None

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Take the lock (waiting for a live owner, breaking a dead one's), keep it fresh, release it."""
        started = time.monotonic()
        told = started - 60
        while not self._create():
            owner = self.owner()
            why = self._dead(owner)
            if why and self.owner() == owner:  # still the same dead owner: break its lock
                log.warning("Breaking the publish lock of a dead run (%s): %s", why, self.path)
                with contextlib.suppress(FileNotFoundError):
                    self.fs.rm(self.path)
                continue
            waited = time.monotonic() - started
            if waited > self.max_wait:
                who = f"{owner.get('host')} pid {owner.get('pid')}" if owner else "another run"
                raise DestinationError(
                    f"{self.path} has been held by {who} for over {self.max_wait:g} s while it publishes, "
                    "with its heartbeat going; nothing was published. Retry once that run is done."
                )
            if time.monotonic() - told > 30:
                told = time.monotonic()
                log.info("Another run is publishing here (%s); waiting for it", self.path)
            time.sleep(0.2)
        stop = threading.Event()
        beat = threading.Thread(target=self._beat, args=(stop,), name="akinon-lock-heartbeat", daemon=True)
        beat.start()
        try:
            yield
        finally:
            stop.set()
            beat.join()
            if (self.owner() or {}).get("token") == self.token:  # never another run's lock
                with contextlib.suppress(FileNotFoundError):
                    self.fs.rm(self.path)

    def _beat(self, stop: threading.Event) -> None:
        while not stop.wait(self.beat_every):
            with contextlib.suppress(Exception):  # a missed beat is retried; publishing goes on
                if (self.owner() or {}).get("token") == self.token:
                    self._rewrite()

    def _rewrite(self) -> None:
        """Write the lock anew in one step: opening a local file with ``wb`` would empty it first."""
        protocols = self.fs.protocol if isinstance(self.fs.protocol, tuple | list) else (self.fs.protocol,)
        if "file" not in protocols:  # an object store replaces an object whole
            with self.fs.open(self.path, "wb") as out:
                out.write(self._identity())
            return
        path = self.fs._strip_protocol(self.path)
        fresh = f"{path}.{self.token}"
        with open(fresh, "wb") as out:
            out.write(self._identity())
        os.replace(fresh, path)
