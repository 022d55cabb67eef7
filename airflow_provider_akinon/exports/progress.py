"""Per-export progress: thread-safe counters and a progress line in the task log every few seconds."""

from __future__ import annotations

import logging
import threading
import time

from airflow_provider_akinon.hooks.http.core import RequestStats

log = logging.getLogger(__name__)


class Progress:
    """Pages and records done (of ``pages_total`` expected), with the request counters of ``stats``."""

    def __init__(self, stats: RequestStats, label: str, *, interval: float = 5.0) -> None:
        self.stats = stats
        self.label = label
        self.interval = interval
        self.pages = 0
        self.records = 0
        self.pages_total: int | None = None
        self.started = time.monotonic()
        self._last = self.started
        self._lock = threading.Lock()

    def expect(self, pages: int) -> None:
        """Add ``pages`` to the pages this export expects to fetch."""
        with self._lock:
            self.pages_total = (self.pages_total or 0) + pages

    def add(self, pages: int, records: int) -> None:
        """Count ``pages`` and ``records`` done; log a progress line at most every ``interval`` s."""
        with self._lock:
            self.pages += pages
            self.records += records
            now = time.monotonic()
            if now - self._last < self.interval:
                return
            self._last = now
        self.log_line("progress")

    def log_line(self, what: str) -> None:
        """Log the counts, the rate and the time so far, as ``what`` (``progress``, ``done``)."""
        elapsed = max(time.monotonic() - self.started, 1e-9)
        stats = self.stats
        total = f"/{self.pages_total}" if self.pages_total else ""
        log.info(
            "%s %s: %d%s pages, %d records, %.0f records/s, %d requests, %d retries, %.1fs waiting, %.1fs",
            self.label,
            what,
            self.pages,
            total,
            self.records,
            self.records / elapsed,
            stats.requests,
            stats.retries,
            stats.waited,
            elapsed,
        )
