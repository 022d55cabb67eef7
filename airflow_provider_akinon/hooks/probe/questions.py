"""How the probe asks and judges, and its questions about other lists (a date order, batched children).

:class:`Asker` sends a round of queries concurrently and times them; :class:`Judge` decides a lookup from
the records that come back: honoured when every record satisfies it and the record chosen to break it
(the pivot) is gone, never by comparing counts taken at different moments.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import tzinfo
from typing import Any

import orjson

from airflow_provider_akinon.errors import AkinonApiError
from airflow_provider_akinon.hooks.config import DEFAULT_SIZE_PARAM
from airflow_provider_akinon.hooks.paging.records import Page
from airflow_provider_akinon.timestamps import parse_instant

GetPage = Callable[[Mapping[str, Any]], Page]


def keys_of(page: Page, key: str) -> list[int]:
    """The keys of a page's records, as integers."""
    return [int(k) for k in page.field(key, page.keys)]


def ordered(keys: list[int], descending: bool = False) -> bool:
    """Whether ``keys`` strictly ascend (or strictly descend, with ``descending``)."""
    return all(b < a if descending else a < b for a, b in itertools.pairwise(keys))


class Asker:
    """Sends the probe's queries concurrently and times them."""

    def __init__(self, get: GetPage, params: Mapping[str, Any]) -> None:
        self.get, self.params, self.timings = get, dict(params), []  # type: ignore[var-annotated]

    def one(self, query: Mapping[str, Any]) -> Page:
        """Send one query on top of the probe's params, and time it."""
        started = time.monotonic()
        page = self.get({**self.params, **query})
        self.timings.append(time.monotonic() - started)
        return page

    def many(self, queries: dict[str, dict[str, Any]], *, past_end: Collection[str] = ()) -> dict[str, Page]:
        """
        Send ``queries`` concurrently; return their pages by name. ``past_end``: queries that may ask past
        the list's end, where a 404 (Django REST Framework's "Invalid page.") answers an empty page.
        """
        if not queries:
            return {}

        def one(name: str) -> Page:
            try:
                return self.one(queries[name])
            except AkinonApiError as err:
                if name in past_end and err.status == 404:
                    return Page(None, None, says_next=False, parsed=[])
                raise

        with ThreadPoolExecutor(len(queries), thread_name_prefix="akinon-probe") as pool:
            return dict(zip(queries, pool.map(one, queries), strict=True))


class Judge:
    """Judges lookups from records: every record satisfies it, and the pivot record (which breaks it) is gone."""

    def __init__(self, key: str, date_field: str | None, zone: tzinfo) -> None:
        self.key, self.date_field, self.zone = key, date_field, zone

    def instant(self, record: Mapping[str, Any]) -> Any:
        """The record's ``date_field`` as an aware datetime (``None``: absent or not a timestamp)."""
        value = record.get(self.date_field or "")
        try:
            return parse_instant(value, self.zone) if isinstance(value, str) else None
        except ValueError:
            return None

    def lookup(
        self, page: Page, pivot: Mapping[str, Any], test: Callable[[Mapping[str, Any]], bool]
    ) -> bool | None:
        """Whether ``page`` honours a lookup (``None``: the pivot is back, changed in between)."""
        records = page.parsed
        if any(not test(record) for record in records):
            return False
        if all(int(r[self.key]) != int(pivot[self.key]) for r in records):
            return True
        return None  # the pivot is back and satisfies the lookup now: it changed in between


def probe_date_sort(
    get: GetPage,
    params: Mapping[str, Any],
    date_field: str,
    *,
    sort_param: str,
    zone: tzinfo,
    size_param: str = DEFAULT_SIZE_PARAM,
) -> bool:
    """Does ``{sort_param}=-{date_field}`` order the list newest first (and ``{date_field}`` oldest first)?"""
    ask, judge = Asker(get, params), Judge("id", date_field, zone)
    answers = ask.many(
        {
            "desc": {sort_param: f"-{date_field}", size_param: 5},
            "asc": {sort_param: date_field, size_param: 5},
        }
    )
    down = [judge.instant(r) for r in answers["desc"].parsed]
    up = [judge.instant(r) for r in answers["asc"].parsed]
    if len(down) < 2 or len(up) < 2 or None in down or None in up:
        return False
    ordered = all(a >= b for a, b in itertools.pairwise(down)) and all(
        a <= b for a, b in itertools.pairwise(up)
    )
    return ordered and up[0] < down[0]


def refuses_value(err: AkinonApiError, *params: str) -> bool:
    """
    Is ``err`` a 400 that refuses only the value of one of ``params``? Django's ``ModelChoiceFilter`` (the
    ``order`` filter of a child list) answers so for an order the tenant no longer has:
    ``{"order__in": ["Select a valid choice. ..."]}``.
    """
    try:
        body = orjson.loads(err.body) if err.status == 400 else None
    except ValueError:
        return False
    return isinstance(body, dict) and len(body) == 1 and next(iter(body)) in params


def probe_batch_lookup(
    get: Callable[[str, Mapping[str, Any]], Page],
    endpoint: str,
    parent_param: str,
    parents: list[int],
    parent_field: str | None = None,
    *,
    size_param: str = DEFAULT_SIZE_PARAM,
) -> bool:
    """
    Does ``{parent_param}__in=a,b`` return exactly the children of ``a`` and ``b``? (django-filter drops
    an undeclared ``__in`` lookup silently: the answer is then the unfiltered list, or an error.) Judged by
    the records' ``parent_field`` (``parent_param`` where not given): every child belongs to ``a`` or
    ``b``, and each single answer's children are in the batch. An order refused as unknown (deleted
    since it was listed) raises: the question needs other orders; so does a 404 (the list is absent).
    """
    field = parent_field or parent_param
    try:
        singles = [get(endpoint, {parent_param: p, size_param: 100}) for p in parents]
        batch = get(endpoint, {f"{parent_param}__in": ",".join(map(str, parents)), size_param: 100})
    except AkinonApiError as err:
        if refuses_value(err, parent_param, f"{parent_param}__in") or err.status == 404:
            raise  # a deleted order, or no such list: not an answer to the question
        return False
    wanted = {str(p) for p in parents}
    owners = {str(r.get(field)) for r in batch.parsed}
    return (
        bool(batch.parsed)
        and owners <= wanted
        and all({str(r.get(field)) for r in single.parsed} <= owners for single in singles)
    )
