"""What an endpoint honours, found by asking it: page cap, ``sort``, id and date lookups, offsets, speed.

Akinon documents little of this (its lists are Django REST Framework, which silently ignores filters it
does not know), so the provider asks the tenant instead of assuming: a handful of small GETs, run
concurrently, answer each question. Exports choose keyset or page walking from the answers and record
them in the manifest; ``test_connection()`` and ``python -m airflow_provider_akinon.probe`` show them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from airflow_provider_akinon.hooks.errors import AkinonApiError
from airflow_provider_akinon.hooks.records import page_of
from airflow_provider_akinon.timestamps import offset_label

FAR_FUTURE = "2100-01-01T00:00:00.000000Z"
FAR_PAST = "1970-01-02T00:00:00.000000Z"


@dataclass(frozen=True)
class Capabilities:
    """
    What one endpoint did when asked. ``None`` means the endpoint holds too few records to tell.

    :param limit: the ``limit`` asked for; ``page_size`` is what a full page held.
    :param offset: how timestamps of ``date_field`` state their zone: ``Z``, ``+03:00`` or ``naive``.
    :param rtt_ms: the fastest round trip of the probe's requests.
    """

    endpoint: str
    date_field: str | None
    count: int
    limit: int
    page_size: int
    sort_id: bool | None
    id_gt: bool | None
    id_lt: bool | None
    date_gte: bool | None
    date_lt: bool | None
    offset: str | None
    rtt_ms: float
    batch_lookup: bool | None = None

    @property
    def capped(self) -> bool:
        return self.page_size < self.limit

    @property
    def keyset(self) -> bool:
        """Keyset walks need ``sort=id`` and both id lookups."""
        return bool(self.sort_id and self.id_gt and self.id_lt)

    @property
    def date_filter_ignored(self) -> bool:
        return self.date_gte is False or self.date_lt is False

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "paging": "keyset" if self.keyset else "page"}

    def rows(self) -> list[tuple[str, str]]:
        """(question, answer) pairs: the probe command's table."""

        def yes(flag: bool | None) -> str:
            return {True: "honoured", False: "IGNORED", None: "cannot tell (too few records)"}[flag]

        df = self.date_field or "date"
        cap = (
            f"capped at {self.page_size} (asked {self.limit})"
            if self.capped
            else f"{self.limit} honoured"
            if self.count > self.page_size or self.page_size == self.limit
            else "cannot tell (too few records)"
        )
        rows = [
            ("records visible", f"{self.count:,}"),
            ("limit (page size)", cap),
            ("sort=id", yes(self.sort_id)),
            ("id__gt", yes(self.id_gt)),
            ("id__lt", yes(self.id_lt)),
            (f"{df}__gte", yes(self.date_gte)),
            (f"{df}__lt", yes(self.date_lt)),
            (f"{df} time zone", self.offset or "cannot tell (no records)"),
            ("round trip", f"{self.rtt_ms:.0f} ms"),
            ("window exports walk by", "keyset (id cursor)" if self.keyset else "page numbers"),
        ]
        if self.batch_lookup is not None:
            rows.append(("batch lookup (order__in)", yes(self.batch_lookup)))
        return rows

    def summary(self, noun: str = "records") -> str:
        """One line for logs and ``test_connection()``: ``500 orders visible; limit (page size) ...``."""
        rest = [f"{question} {answer}" for question, answer in self.rows()[1:]]
        return "; ".join([f"{self.count:,} {noun} visible", *rest])


def _ids(page: Mapping[str, Any], key: str) -> list[int]:
    return [int(record[key]) for record in page.get("results") or ()]


def _questions(ids: list[int], date_field: str | None) -> dict[str, dict[str, Any]]:
    """The queries that tell whether sort, id and date lookups are honoured (each needs enough records)."""
    questions: dict[str, dict[str, Any]] = {}
    if len(ids) >= 2:
        questions["desc"] = {"sort": "-id", "limit": 2}
        questions["gt"] = {"sort": "id", "id__gt": min(ids), "limit": 1}
        questions["lt"] = {"sort": "id", "id__lt": max(ids), "limit": 1}
    if date_field:
        questions["gte"] = {f"{date_field}__gte": FAR_FUTURE, "limit": 1}
        questions["before"] = {f"{date_field}__lt": FAR_PAST, "limit": 1}
    return questions


def probe_endpoint(
    get: Callable[[str, Mapping[str, Any]], Any],
    endpoint: str,
    *,
    date_field: str | None,
    params: Mapping[str, Any] | None = None,
    limit: int,
    key: str = "id",
) -> Capabilities:
    """Ask ``endpoint`` (with ``params``) what it honours; one GET first, then four at once."""
    params = dict(params or {})
    timings: list[float] = []

    def timed(query: Mapping[str, Any]) -> dict[str, Any]:
        started = time.monotonic()
        page = page_of(get(endpoint, {**params, **query}))
        timings.append(time.monotonic() - started)
        return page.envelope()

    first = timed({"sort": "id", "limit": limit})
    count, ids = int(first.get("count", 0)), _ids(first, key)
    page_size = len(ids) if (len(ids) < limit and count > len(ids)) else limit
    questions = _questions(ids, date_field if count else None)
    with ThreadPoolExecutor(max(1, len(questions)), thread_name_prefix="akinon-probe") as pool:
        answers = dict(zip(questions, pool.map(timed, questions.values()), strict=True))

    def fewer(name: str, test: Callable[[int], bool] = lambda _: True) -> bool | None:
        """Did the question narrow the list (and only to records that pass ``test``)?"""
        if name not in answers:
            return None
        answer = answers[name]
        return int(answer.get("count", 0)) < count and all(test(i) for i in _ids(answer, key))

    sort_id = None
    if "desc" in answers:
        desc = _ids(answers["desc"], key)
        sort_id = ids == sorted(set(ids)) and len(desc) == 2 and desc[0] > desc[1]
    sample = (first.get("results") or [{}])[0].get(date_field) if date_field else None
    return Capabilities(
        endpoint=endpoint,
        date_field=date_field,
        count=count,
        limit=limit,
        page_size=page_size,
        sort_id=sort_id,
        id_gt=fewer("gt", lambda i: i > min(ids)),
        id_lt=fewer("lt", lambda i: i < max(ids)),
        date_gte=fewer("gte"),
        date_lt=fewer("before"),
        offset=offset_label(sample) if isinstance(sample, str) else None,
        rtt_ms=min(timings) * 1000,
    )


def probe_batch_lookup(
    get: Callable[[str, Mapping[str, Any]], Any], endpoint: str, parent_param: str, parents: list[int]
) -> bool:
    """
    Does ``{parent_param}__in=a,b`` return exactly the children of ``a`` and ``b``? (django-filter drops
    an undeclared ``__in`` lookup silently: the answer is then the unfiltered list, or an error.)
    """
    try:
        singles = [int(get(endpoint, {parent_param: p, "limit": 1}).get("count", 0)) for p in parents]
        batch = get(endpoint, {f"{parent_param}__in": ",".join(map(str, parents)), "limit": 100})
    except AkinonApiError:
        return False
    wanted = {str(p) for p in parents}
    records = batch.get("results") or []
    return int(batch.get("count", -1)) == sum(singles) and all(
        str(r.get(parent_param)) in wanted for r in records
    )
