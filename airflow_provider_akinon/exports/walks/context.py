"""What every walk of one export shares (:class:`WalkJob`), where its records go, and what it reports."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Protocol

from airflow_provider_akinon.exports.idset import IdSet
from airflow_provider_akinon.exports.progress import Progress
from airflow_provider_akinon.hooks.akinon import AkinonHook
from airflow_provider_akinon.hooks.paging.decoder import PageDecoder
from airflow_provider_akinon.hooks.paging.records import Records
from airflow_provider_akinon.hooks.paging.styles import known_envelopes

if TYPE_CHECKING:
    from airflow_provider_akinon.exports.plan import Plan


class RecordWriter(Protocol):
    """One stream of records (a :class:`~airflow_provider_akinon.exports.formats.parts.PartWriter`)."""

    def write(self, records: Records) -> None:
        """Write one page of ``records`` into the stream."""
        ...

    def discard(self) -> None:
        """Drop everything written into the stream so far (its pass is walked again)."""
        ...


class Sink(Protocol):
    """Where a walk's records go: streams in the order they are opened (part files, or ids)."""

    def open_stream(self) -> RecordWriter:
        """Open the next stream."""
        ...


@dataclass
class Tally:
    """What a walk found, in records; tallies of sub-walks add up (``+=``)."""

    #: by the API's counts
    count: int = 0
    #: written to files
    written: int = 0

    #: not written again: an earlier sub-window of the same export (``window_step``) wrote them
    skipped: int = 0
    #: left a changes-feed window while it was walked (by the counts; see :mod:`..settle`)
    left: int = 0
    #: outside the window: a walk without the date filter saw them and dropped them
    cut: int = 0
    #: orders deleted between the orders' walk and their children's (the API refused them; no children)
    gone: int = 0
    #: walks whose list gave no count (``count`` is then what they found)
    uncounted: int = 0
    #: how the walks knew their lists ended, and how many walks knew it so (``count``, ``marker``, ...)
    ends: Counter[str] = field(default_factory=Counter)

    def __iadd__(self, other: Tally) -> Tally:
        for counter in fields(self):
            setattr(self, counter.name, getattr(self, counter.name) + getattr(other, counter.name))
        return self

    def end(self) -> str | dict[str, int] | None:
        """The manifest's ``end``: the one way every walk knew its end, or how many walks knew it each way."""
        if len(self.ends) == 1:
            return next(iter(self.ends))
        return dict(sorted(self.ends.items())) or None


@dataclass
class WalkJob:
    """
    One walk of a plan: the plan, the hook that asks, the sink records go to, the progress line.

    :param exported: ids written by earlier sub-windows of this export (``window_step``), else ``None``.
    """

    plan: Plan
    hook: AkinonHook
    sink: Sink
    progress: Progress
    exported: IdSet | None = None
    max_passes: int = 5

    @property
    def resource(self) -> Any:
        """The resource the plan exports."""
        return self.plan.resource

    @property
    def date_field(self) -> str | None:
        """The plan's date field (``None`` outside a date window)."""
        return self.plan.date_field

    def decoder(self, parent: str | None = None) -> PageDecoder:
        """The decoder of this list's pages: the probed envelope, or any known one (children are not probed)."""
        resource, caps = self.resource, self.plan.caps
        if caps is not None:
            return caps.decoder(resource.primary_key, self.date_field, parent, allow_bare=resource.bare_list)
        return PageDecoder(
            resource.primary_key,
            self.date_field,
            parent,
            allow_bare=resource.bare_list,
            envelope=known_envelopes(),
        )

    def count(
        self, query: dict[str, Any], descending: bool = False
    ) -> tuple[int | None, dict[str, Any] | None]:
        """The API's count of ``query``, and its first record in key order (``None``: empty)."""
        caps = self.plan.caps
        param, sort = (caps.sort_param, caps.sort) if caps else ("sort", None)
        order = {param: f"-{sort}" if descending else sort} if sort else {}
        resource = self.resource
        return self.hook.head(
            resource.endpoint, {**query, **order}, key=resource.primary_key, bare=resource.bare_list
        )
