"""What an endpoint honours, found by asking it and judged by the records it returns.

Akinon documents little of this (its lists are Django REST Framework, which silently ignores filters it
does not know), so the provider asks the tenant instead of assuming. Each question is judged from the
records that come back, never by comparing counts taken at different moments (a busy shop inserts and
updates orders between any two requests): a lookup is honoured when every record returned satisfies it
and the record chosen to violate it is absent; a sort when ascending and descending answers are ordered.
An answer left ambiguous by a record changed in between is asked again with another record.

Two round trips of concurrent requests: the default answer (the largest page the tenant allows, up to
:data:`PROBE_LIMIT`) with a sort ascending and descending; then the lookups, the date filters and the
paging style (what ``page``, ``offset`` and ``next`` do), chosen from the first answers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from airflow_provider_akinon.errors import AkinonApiError, AkinonConfigError
from airflow_provider_akinon.hooks.config import DEFAULT_SIZE_PARAM, AkinonConfig
from airflow_provider_akinon.hooks.paging.records import Page
from airflow_provider_akinon.hooks.paging.styles import PAGINATORS
from airflow_provider_akinon.hooks.probe.capabilities import Capabilities
from airflow_provider_akinon.hooks.probe.questions import Asker, GetPage, Judge, keys_of, ordered
from airflow_provider_akinon.timestamps import api_time, offset_label

#: The largest page the probe asks for: exports use what the tenant allows of it.
PROBE_LIMIT = 1000
#: The page-size parameter the probe asks with (it also asks whether ``page_size`` is the one honoured).
SIZE = DEFAULT_SIZE_PARAM
#: Records a lookup question asks for (enough to see a record that breaks the lookup).
SAMPLE = 20
#: Other records a question may be asked again with, when a record changed between two requests.
RETRIES = 3
#: What the probe asks where the first answer does not show the list's end: the second page, by number and offset.
PAGING_QUESTIONS = ("page", "offset")
#: Bounds no record's date lies beyond, for lists whose records do not carry the date they filter on.
FAR_FUTURE = "2100-01-01T00:00:00.000000Z"
FAR_PAST = "1970-01-02T00:00:00.000000Z"


def _paging_style(first: Page, answers: dict[str, Page], key: str) -> str:
    """
    How the list pages: the first paginator of :data:`PAGINATORS` that recognises it from the first
    answer and what ``page`` and ``offset`` did; else ``single`` where the list is shown to fit one page
    (the first answer says so, or the page after it is empty), or ``unknown``.
    """
    linked = dict(parse_qsl(urlsplit(first.next or "").query))
    head = keys_of(first, key)[:1]
    moved = {
        name: bool(len(answers[name])) and keys_of(answers[name], key)[:1] != head
        for name in PAGING_QUESTIONS
        if name in answers
    }
    style = next((name for name, p in PAGINATORS.items() if p.detects(first, linked, moved)), None)
    if style:
        return style
    after = [answers[name] for name in PAGING_QUESTIONS if name in answers]
    return "single" if first.shows_whole() or any(not len(page) for page in after) else "unknown"


def probe_endpoint(
    get: GetPage,
    endpoint: str,
    *,
    date_field: str | None,
    params: Mapping[str, Any] | None = None,
    key: str = "id",
    sort_param: str = "sort",
    lookup: str = "id",
    limit: int = PROBE_LIMIT,
    zone: tzinfo | None = None,
) -> Capabilities:
    """What ``endpoint`` honours, judged by the records ``get`` (one GET) returns; ``limit``: the largest page."""
    ask, judge = Asker(get, params or {}), Judge(key, date_field, zone or UTC)
    first_round: dict[str, dict[str, Any]] = {
        "default": {SIZE: limit},
        "asc": {sort_param: key, SIZE: 3},
    }
    answers = ask.many({**first_round, "desc": {sort_param: f"-{key}", SIZE: 3}})
    first = answers["default"]
    sort, used_param = _sort(ask, answers, key, sort_param)
    ordered = {used_param: key} if sort else {}
    second, id_gt, id_lt = _second_round(ask, judge, answers, sort and used_param, lookup, limit)
    size_param, page_size = _page_size(first, second, limit)
    pivots = answers["asc"].parsed if sort else first.parsed
    date_gte, date_lt, date_unit = _dates(ask, judge, pivots, ordered, date_field)
    sample = first.parsed[0].get(date_field) if date_field and first.parsed else None
    return Capabilities(
        endpoint=endpoint,
        date_field=date_field,
        count=first.count,
        limit=limit,
        page_size=page_size,
        size_param=size_param,
        pagination=_paging_style(first, second, key),
        envelope=first.envelope.name,
        sort=sort,
        sort_param=used_param,
        lookup=lookup,
        id_gt=id_gt,
        id_lt=id_lt,
        date_gte=date_gte,
        date_lt=date_lt,
        date_unit=date_unit,
        default_order=_default_order(keys_of(first, key)),
        offset=offset_label(sample) if isinstance(sample, str) else None,
        rtt_ms=min(ask.timings) * 1000,
        requests=len(ask.timings),
    )


def probed(config: AkinonConfig, get: GetPage, endpoint: str, **question: Any) -> Capabilities:
    """
    What ``endpoint`` honours, asked through ``get`` (one GET of a query) with the connection's page size,
    sort parameter and time zone; what the connection's paging extras set wins over the probe.
    """
    paging = dict(config.paging)  # its pagination is checked here, late: plug-ins register their styles
    if paging.get("pagination", next(iter(PAGINATORS))) not in PAGINATORS:
        raise AkinonConfigError(
            f"pagination={paging['pagination']!r} on connection {config.conn_id!r} is not one of "
            f"{', '.join(PAGINATORS)}; set it to one of them, or register a paginator of that name first."
        )
    return probe_endpoint(
        get,
        endpoint,
        limit=config.page_size or PROBE_LIMIT,
        sort_param=paging.get("sort_param", "sort"),
        zone=config.timezone,
        **question,
    ).with_settings(paging)


def _second_round(
    ask: Asker, judge: Judge, answers: dict[str, Page], sorted_by: str | None, lookup: str, limit: int
) -> tuple[dict[str, Page], bool | None, bool | None]:
    """
    The paging questions and the id lookups, asked at once; each lookup is judged against the record
    that breaks it (the first in key order, or in the default order where no sort works).
    """
    key, first = judge.key, answers["default"]
    keys = keys_of(first, key)
    low = (keys_of(answers["asc"], key) if sorted_by else keys or [0])[0]
    top = keys_of(answers["desc"], key)[0] if sorted_by else low
    questions = _paging_questions(first, limit)
    if len(keys) >= 2:
        up, down = ({sorted_by: key}, {sorted_by: f"-{key}"}) if sorted_by else ({}, {})
        questions["gt"] = {**up, f"{lookup}__gt": low, SIZE: SAMPLE}
        questions["lt"] = {**down, f"{lookup}__lt": top, SIZE: SAMPLE}
    second = ask.many(questions, past_end=PAGING_QUESTIONS)
    id_gt = judge.lookup(second["gt"], {key: low}, lambda r: int(r[key]) > low) if "gt" in second else None
    id_lt = judge.lookup(second["lt"], {key: top}, lambda r: int(r[key]) < top) if "lt" in second else None
    return second, id_gt, id_lt


def _paging_questions(first: Page, limit: int) -> dict[str, dict[str, Any]]:
    """What ``page``, ``offset`` and a ``page_size`` parameter do, for a list not shown to fit one page."""
    if first.shows_whole():
        return {}
    questions: dict[str, dict[str, Any]] = {
        "page": {SIZE: limit, "page": 2},
        "offset": {SIZE: limit, "offset": len(first)},
    }
    if len(first) < limit:
        questions["page_size"] = {"page_size": limit}
    return questions


def _page_size(first: Page, second: dict[str, Page], limit: int) -> tuple[str, int]:
    """The parameter that sets the page size, and the largest page the tenant gives for ``limit``."""
    if "page_size" in second and len(second["page_size"]) > len(first):
        return "page_size", len(second["page_size"])
    return SIZE, limit if first.shows_whole() else max(1, len(first))


def _default_order(keys: list[int]) -> str | None:
    if len(keys) < 2:
        return None
    return "asc" if ordered(keys) else "desc" if ordered(keys, True) else None


def _sort(ask: Asker, answers: dict[str, Page], key: str, sort_param: str) -> tuple[str | None, str]:
    """The sort value (and parameter) that orders by the key, asking other spellings if needed."""

    def orders(asc: Page, desc: Page, field: str) -> bool:
        up, down = keys_of(asc, key), keys_of(desc, key)
        return len(up) >= 2 and len(down) >= 2 and ordered(up) and ordered(down, True) and up[0] < down[0]

    if orders(answers["asc"], answers["desc"], key):
        return key, sort_param
    candidates = [(sort_param, "id"), ("ordering", key), ("ordering", "id")]
    candidates = [(p, f) for p, f in dict.fromkeys(candidates) if (p, f) != (sort_param, key)]
    if len(answers["default"]) < 2:
        return None, sort_param
    queries = {}
    for param, field in candidates:
        queries[f"{param}:{field}:asc"] = {param: field, SIZE: 3}
        queries[f"{param}:{field}:desc"] = {param: f"-{field}", SIZE: 3}
    tried = ask.many(queries)
    for param, field in candidates:
        if orders(tried[f"{param}:{field}:asc"], tried[f"{param}:{field}:desc"], field):
            answers["asc"], answers["desc"] = tried[f"{param}:{field}:asc"], tried[f"{param}:{field}:desc"]
            return field, param
    return None, sort_param


def _dates(
    ask: Asker, judge: Judge, pivots: list[dict[str, Any]], ordered: dict[str, Any], date_field: str | None
) -> tuple[bool | None, bool | None, str]:
    """
    Whether ``date_field__gte`` and ``__lt`` are honoured, and in what unit: ``instant`` (a date and time)
    or ``day`` (a filter that refuses times with 400 and takes ``YYYY-MM-DD``, as Akinon's Data Warehouse).
    """
    try:
        return (*_instants(ask, judge, pivots, ordered, date_field), "instant")
    except AkinonApiError as err:
        if err.status != 400 or not date_field:
            raise
    return (*_days(ask, judge, pivots, ordered, date_field), "day")


def _days(
    ask: Asker, judge: Judge, pivots: list[dict[str, Any]], ordered: dict[str, Any], date_field: str
) -> tuple[bool | None, bool | None]:
    """The day questions: the day after the pivot's (``__gte``) and the pivot's own day (``__lt``)."""

    def cuts(moment: datetime) -> dict[str, tuple[str, datetime]]:
        day = moment.date()  # in the record's own offset, as the tenant's zone writes it
        after, own = day + timedelta(days=1), day
        return {
            "gte": (after.isoformat(), datetime.combine(after, datetime.min.time(), moment.tzinfo)),
            "lt": (own.isoformat(), datetime.combine(own, datetime.min.time(), moment.tzinfo)),
        }

    dated = [p for p in pivots if judge.instant(p) is not None]
    return _bound_verdicts(ask, judge, dated, ordered, date_field, cuts)


def _instants(
    ask: Asker, judge: Judge, pivots: list[dict[str, Any]], ordered: dict[str, Any], date_field: str | None
) -> tuple[bool | None, bool | None]:
    """Whether ``date_field__gte`` and ``__lt`` take times; each asked again if a pivot changed."""
    if not date_field or not pivots:
        return None, None
    dated = [p for p in pivots if judge.instant(p) is not None]
    naive = any(offset_label(p.get(date_field)) == "naive" for p in dated)
    if not dated or naive:
        # records without the field, or naive times whose zone is only a guess: an honoured filter
        # answers nothing for dates no record has
        far = ask.many(
            {
                "gte": {f"{date_field}__gte": FAR_FUTURE, SIZE: 1},
                "lt": {f"{date_field}__lt": FAR_PAST, SIZE: 1},
            }
        )
        return not len(far["gte"]), not len(far["lt"])

    def cuts(moment: datetime) -> dict[str, tuple[str, datetime]]:
        after = moment + timedelta(microseconds=1)
        return {"gte": (api_time(after), after), "lt": (api_time(moment), moment)}

    return _bound_verdicts(ask, judge, dated, ordered, date_field, cuts)


def _bound_verdicts(
    ask: Asker,
    judge: Judge,
    pivots: list[dict[str, Any]],
    ordered: dict[str, Any],
    date_field: str,
    cuts: Callable[[datetime], dict[str, tuple[str, datetime]]],
) -> tuple[bool | None, bool | None]:
    """
    Judge ``date_field__gte`` and ``__lt`` at the cuts of a pivot's date (``{name: (value sent, instant)}``):
    honoured when every record returned lies on the cut's side; each asked again on the next pivot while
    the answer is ambiguous (the pivot changed).
    """
    verdicts: dict[str, bool | None] = {"gte": None, "lt": None}
    for pivot in pivots[:RETRIES]:
        bounds = cuts(judge.instant(pivot))
        queries = {
            name: {**ordered, f"{date_field}__{name}": value, SIZE: SAMPLE}
            for name, (value, _) in bounds.items()
            if verdicts[name] is None
        }
        for name, page in ask.many(queries).items():
            cut = bounds[name][1]

            def test(record: Mapping[str, Any], name: str = name, cut: datetime = cut) -> bool:
                when = judge.instant(record)
                return when is not None and (when >= cut if name == "gte" else when < cut)

            verdicts[name] = judge.lookup(page, pivot, test)
        if None not in verdicts.values():
            break
    return verdicts["gte"], verdicts["lt"]
