"""What one export will do, decided once before any record is read: an immutable :class:`Plan` (data only).

The operator says what it wants (:class:`Ask`: a resource, the source of its records, filters, paging);
the planner (:func:`~airflow_provider_akinon.exports.planner.plan_export`) asks the API what it honours and
decides the walk, the page size and the rule that makes the walk exact, into a :class:`Plan`. Nothing
downstream decides again: the export runs the plan's walk (:mod:`~airflow_provider_akinon.exports.walks`)
into the plan's format. The walks read this module; it names no walk (a plan holds its walk as a
:class:`Walk`, the class the planner chose).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from airflow_provider_akinon.exports.settle import SettleRule
from airflow_provider_akinon.exports.sources import Source, WindowSource
from airflow_provider_akinon.hooks.probe.capabilities import Capabilities
from airflow_provider_akinon.resources import Resource
from airflow_provider_akinon.windows import Window

if TYPE_CHECKING:
    from airflow_provider_akinon.exports.walks.context import Tally, WalkJob


class Walk(Protocol):
    """What a plan holds of its walk: a class of :data:`~airflow_provider_akinon.exports.walks.WALKS`."""

    #: what the manifest records of the walk (``paging``)
    name: ClassVar[str]
    #: the walk in a few words, for logs and the probe command's estimate
    method: ClassVar[str]

    @classmethod
    def export(cls, job: WalkJob) -> tuple[Tally, dict[str, Any]]:
        """Walk the plan's source into the job's sink; return what was found, and how."""

    @classmethod
    def extra_requests(cls, count: int, size: int, day_pages: int) -> int:
        """Requests a day's export takes beyond its pages."""


@dataclass(frozen=True)
class Ask:
    """What an operator asks for, validated; ``window`` is recorded with non-window sources when known."""

    resource: Resource
    source: Source
    filters: Mapping[str, Any] = field(default_factory=dict)
    paging: str = "auto"
    window_on: str = "orders"
    max_concurrency: int = 4
    window: Window | None = None
    allow_full_scan: bool = False

    def source_label(self) -> str:
        """What the export covers, for logs (``[start, end)``, ``ids 101..200``)."""
        return self.source.label()


@dataclass(frozen=True)
class Plan:
    """
    How one export walks the API: everything decided, nothing left to decide downstream.

    :param walk: how the list is walked: a class of :data:`~airflow_provider_akinon.exports.walks.WALKS`.
    :param caps: what the probe found (``None`` for children, which are fetched by parent).
    :param page_size: the records a page is asked for: what the list allows, within the connection's.
    :param probed: the walk was chosen by the probe (``paging="auto"``), not forced.
    :param not_before: a window on the version field is walked only once it closed: not before this.
    :param batched: children are asked for many orders a request (``{parent_param}__in``, probed).
    :param allowed: the name of the walk the probe's answers allow (``None`` without a probe).
    """

    resource: Resource
    source: Source
    filters: Mapping[str, Any]
    walk: type[Walk]
    caps: Capabilities | None
    rule: SettleRule
    page_size: int
    max_concurrency: int
    probed: bool
    window: Window | None = None
    order: Mapping[str, Any] = field(default_factory=dict)
    days: tzinfo | None = None  # date filters that take days: the zone their days are in
    not_before: datetime | None = None
    batched: bool = False
    allowed: str | None = None  # the walk the probe's answers allow (manifest: the probe's ``paging``)

    @property
    def date_field(self) -> str | None:
        """The date field of a window source; ``None`` for other sources."""
        return self.source.date_field if isinstance(self.source, WindowSource) else None

    def describe(self) -> dict[str, Any]:
        """What the manifest records of the plan."""
        described = {"window": None, "date_field": None, "id_range": None, **self.source.describe()}
        if self.window is not None and described["window"] is None:
            described["window"] = self.window.as_dict()
        probe = None if self.caps is None else {**self.caps.as_dict(), "paging": self.allowed}
        return {**described, "paging": self.walk.name, "probe": probe}
