"""What every walk of one export shares (:class:`WalkJob`), and what a walk reports (:class:`Tally`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from airflow_provider_akinon.exports.idset import IdSet
from airflow_provider_akinon.exports.progress import Progress
from airflow_provider_akinon.exports.settle import STRICT, Rule
from airflow_provider_akinon.hooks.akinon import AkinonHook
from airflow_provider_akinon.hooks.capabilities import Capabilities
from airflow_provider_akinon.hooks.records import Records
from airflow_provider_akinon.resources import Resource


class RecordWriter(Protocol):
    """Where a walk's records go (a :class:`~airflow_provider_akinon.exports.writers.PartWriter`)."""

    def write(self, records: Records) -> None: ...

    def discard(self) -> None: ...


@dataclass
class Tally:
    """
    What a walk found: ``count`` records by the API's counts, ``written`` to files, ``skipped`` because
    an earlier sub-window of the same export (``window_step``) wrote them already, and ``left``: records
    found that left a changes-feed window while it was walked (by the counts; see :mod:`.settle`).
    """

    count: int = 0
    written: int = 0
    skipped: int = 0
    left: int = 0

    def __iadd__(self, other: Tally) -> Tally:
        self.count += other.count
        self.written += other.written
        self.skipped += other.skipped
        self.left += other.left
        return self


@dataclass
class WalkJob:
    """
    One export's walking: the hook, the resource, where records go, and the paging verdict.

    :param open_writer: called with a stream number, returns the writer of that stream of part files.
    :param limit: the ``limit`` asked for; ``page_size`` is what the API returns for it (it may cap).
    :param exported: ids written by earlier sub-windows of this export (``window_step``), else ``None``.
    """

    hook: AkinonHook
    resource: Resource
    open_writer: Callable[[int], RecordWriter]
    progress: Progress
    max_concurrency: int
    limit: int
    page_size: int
    filters: dict[str, Any] = field(default_factory=dict)
    date_field: str | None = None
    max_passes: int = 5
    exported: IdSet | None = None
    streams: int = 0
    caps: Capabilities | None = None
    probed: bool = False
    rule: Rule = STRICT

    def count(
        self, query: dict[str, Any], descending: bool = False
    ) -> tuple[int | None, dict[str, Any] | None]:
        """The API's count of ``query``, and its first record in key order (``None``: empty)."""
        param, sort = (self.caps.sort_param, self.caps.sort) if self.caps else ("sort", "id")
        order = {param: f"-{sort}" if descending else sort} if sort else {}
        return self.hook.head(self.resource.endpoint, {**query, **order}, key=self.resource.primary_key)

    def next_stream(self) -> int:
        """A new stream number (one per shard): part files of an export are ordered by it."""
        self.streams += 1
        return self.streams - 1
