"""The publish lease of a destination, and how a run shows it is alive: a heartbeat judged by the store's clock.

``{destination}/_akinon/lease.json`` is the one object every publish decision is written to, always
with a compare-and-swap (:mod:`~airflow_provider_akinon.exports.commit.store`)::

    {"holder": "<token of the run publishing>" | null, "seq": 41,
     "intent": {"run": "1a2b3c4d", "token": "...", "parts": ["part-00000-1a2b3c4d.jsonl"]} | null,
     "commit": {<the committed manifest>} | null,
     "aborted": ["9f8e7d6c", ...]}

``intent`` names the parts a holder is about to move in, before the first one moves; ``commit`` is the
manifest, written in the same swap that clears the intent: that swap is the commit. ``aborted`` lists
runs whose intent was rolled back: a part named after one of them is garbage wherever it is found (a
run paused past its lease may still move one in). ``seq`` grows with every write, so no two writes carry
the same bytes and an etag is never reused.

Each run keeps ``_akinon/staging/<token>/_beat`` fresh while it runs (:class:`Liveness`). A run is judged
stopped when the newest object of its staging folder is older than ``lease_timeout`` **by the store's
clock** (the modification time of this run's own last heartbeat, plus the time elapsed since on this
machine's monotonic clock): no host name, process id or comparison of two machines' clocks is involved.
A wrong judgement (a run paused longer than the timeout) costs that run its lease, never the export:
its commit is a swap of the lease it no longer holds, and fails.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from airflow_provider_akinon import __version__
from airflow_provider_akinon.errors import DestinationError
from airflow_provider_akinon.exports.commit.store import Entry, Store

log = logging.getLogger(__name__)

LEASE = "_akinon/lease.json"
STAGING = "_akinon/staging/"
BEAT = "_beat"
#: how many rolled-back runs the lease remembers (a part of an older one is refused as foreign)
MAX_ABORTED = 1000


@dataclass(frozen=True)
class LeaseState:
    """What the lease says: who holds it, what is being moved in or was committed, which runs were rolled back."""

    holder: str | None = None
    seq: int = 0
    intent: dict[str, Any] | None = None
    commit: dict[str, Any] | None = None
    aborted: tuple[str, ...] = field(default_factory=tuple)

    def encode(self) -> bytes:
        """The lease as the JSON bytes stored (keys sorted)."""
        return orjson.dumps(
            {
                "holder": self.holder,
                "seq": self.seq,
                "intent": self.intent,
                "commit": self.commit,
                "aborted": list(self.aborted),
            },
            option=orjson.OPT_SORT_KEYS,
        )

    @classmethod
    def decode(cls, data: bytes) -> LeaseState:
        """Read a stored lease; :class:`DestinationError` for one this provider did not write."""
        try:
            raw = orjson.loads(data)
            return cls(raw["holder"], int(raw["seq"]), raw["intent"], raw["commit"], tuple(raw["aborted"]))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            raise DestinationError(
                f"{LEASE} is not a publish lease this provider wrote: it decides who publishes into this "
                "folder. Remove it only if no export into this destination is running."
            ) from None

    def then(self, **changes: Any) -> LeaseState:
        """The next state: ``changes`` applied, ``seq`` advanced."""
        return replace(self, seq=self.seq + 1, **changes)

    def rolled_back(self, run: str) -> tuple[str, ...]:
        """``aborted`` with ``run`` added (the oldest forgotten past :data:`MAX_ABORTED`)."""
        return (*(r for r in self.aborted if r != run), run)[-MAX_ABORTED:]


def staging_of(token: str) -> str:
    """The folder key of a run's staging."""
    return f"{STAGING}{token}/"


class Liveness:
    """
    This run's heartbeat, and the judgements of other runs' by the store's clock.

    :param lease_timeout: seconds without a heartbeat after which a run is judged stopped.
    :param retention: seconds a superseded part is kept for readers of the export it belonged to.
    :param max_wait: seconds to wait for a live holder of the lease before giving up.
    """

    def __init__(
        self,
        store: Store,
        token: str,
        *,
        lease_timeout: float = 60.0,
        retention: float = 3600.0,
        max_wait: float = 600.0,
    ) -> None:
        self.store = store
        self.token = token
        self.lease_timeout = lease_timeout
        self.retention = retention
        self.max_wait = max_wait
        self._base = (time.time(), time.monotonic())  # replaced by the store's clock at the first beat
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def beat_key(self) -> str:
        """The key of this run's heartbeat object."""
        return f"{staging_of(self.token)}{BEAT}"

    def beat(self) -> None:
        """Write the heartbeat, and read the store's clock off it."""
        before = time.monotonic()
        self.store.put(self.beat_key, orjson.dumps({"token": self.token, "provider_version": __version__}))
        written = [e.modified for e in self.store.listing(staging_of(self.token)) if e.key == self.beat_key]
        if written:
            self._base = (written[0], before)

    def start(self) -> None:
        """Beat once now (errors raise: the destination is not writable), then every ``lease_timeout / 6`` s."""
        self.beat()
        self._thread = threading.Thread(target=self._run, name="akinon-heartbeat", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.lease_timeout / 6):
            with contextlib.suppress(
                Exception
            ):  # a missed beat is retried; a run long silent loses its lease
                self.beat()

    def stop(self) -> None:
        """Stop the heartbeat thread and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def now(self) -> float:
        """The store's clock, now: the last heartbeat's time plus the time elapsed since on this machine."""
        modified, at = self._base
        return modified + (time.monotonic() - at)

    def newest(self, token: str) -> float | None:
        """When the run ``token`` last wrote into its staging folder (``None``: it has none)."""
        times = [e.modified for e in self.store.listing(staging_of(token), recursive=True)]
        return max(times, default=None)

    def stale(self, newest: float | None) -> bool:
        """Whether a run whose newest staged object was written at ``newest`` has stopped."""
        return newest is None or self.now() - newest > self.lease_timeout

    def expired(self, entries: tuple[Entry, ...]) -> list[str]:
        """The keys of ``entries`` older than ``retention`` by the store's clock."""
        return [e.key for e in entries if self.now() - e.modified > self.retention]

    def await_lease(self, holder: str, etag: str) -> str:
        """Poll the lease until it changes (``"changed"``) or its holder stops (``"stale"``); bounded."""
        deadline, told = time.monotonic() + self.max_wait, 0.0
        while True:
            found = self.store.read(LEASE)
            if found is None or found.etag != etag:
                return "changed"
            if self.stale(self.newest(holder)):
                return "stale"
            if time.monotonic() > deadline:
                raise DestinationError(
                    f"{self.store.uri} is being published by another run ({holder}) whose heartbeat goes on; "
                    f"waited {self.max_wait:g} s and published nothing. Retry once that run is done."
                )
            if time.monotonic() - told > 30:
                told = time.monotonic()
                log.info("Another run (%s) is publishing into %s; waiting for it", holder, self.store.uri)
            time.sleep(min(1.0, self.lease_timeout / 20))
