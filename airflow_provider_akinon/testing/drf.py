"""Akinon's lists as Django REST Framework serves them: django-filter lookups, ``sort``, page envelopes.

Unknown or undeclared parameters are ignored without an error, as django-filter does; ``limit`` is capped
at the variant's ``max_limit``; a page past the end is a 404 "Invalid page.".
"""

from __future__ import annotations

import base64
import bisect
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import orjson

from airflow_provider_akinon.testing.data import AkinonData, parse_ts
from airflow_provider_akinon.testing.variants import ApiVariant

DATE_FIELDS = ("created_date", "modified_date", "date_placed", "deleted_date")
ID_OPS = {"id__gt": "__gt__", "id__gte": "__ge__", "id__lt": "__lt__", "id__lte": "__le__"}


class Span:
    """``items[lo:hi]`` without copying it: a keyset page of a 200,000-order window copies 100 ids, not all."""

    __slots__ = ("hi", "items", "lo")

    def __init__(self, items: list[int], lo: int, hi: int) -> None:
        self.items, self.lo, self.hi = items, lo, max(lo, hi)

    def __len__(self) -> int:
        return self.hi - self.lo

    def chunk(self, offset: int, limit: int) -> list[int]:
        """Up to ``limit`` items of the span from ``offset`` on."""
        start = self.lo + offset
        return self.items[start : min(start + limit, self.hi)]


class Lists:
    """Filter, sort and page the tenant's lists; filter results are cached per data version."""

    def __init__(self, data: AkinonData, api: ApiVariant) -> None:
        self.data = data
        self.api = api
        self._cache: dict[tuple, list[int]] = {}

    def filter(self, query: dict[str, str], ids: list[int], columns: dict[str, list], tag: str = "") -> Span:
        """Apply lookups and ``sort``; id lookups on an id-sorted list are bisections (cheap keyset walks)."""
        base_key = tuple(
            sorted(
                (k, v)
                for k, v in query.items()
                if not k.startswith(("id", "page", "limit", "offset", "cursor"))
            )
        )
        cache_key = (tag or id(ids), len(ids), self.data.version, base_key, self.api.default_sort)
        selected = self._cache.get(cache_key)
        if selected is None:
            selected = self._select(query, ids, columns)
            if len(self._cache) > 64:
                self._cache.clear()
            self._cache[cache_key] = selected
        lo, hi = 0, len(selected)
        ascending = query.get(self.api.sort_param, self.api.default_sort) in ("id", "pk")
        for key, value in query.items():
            if key not in ID_OPS:
                continue
            bound = int(value)
            if not ascending:
                selected = [i for i in selected if getattr(i, ID_OPS[key])(bound)]
            elif key == "id__gt":
                lo = max(lo, bisect.bisect_right(selected, bound))
            elif key == "id__gte":
                lo = max(lo, bisect.bisect_left(selected, bound))
            elif key == "id__lt":
                hi = min(hi, bisect.bisect_left(selected, bound))
            else:
                hi = min(hi, bisect.bisect_right(selected, bound))
        return Span(selected, lo, hi) if ascending else Span(selected, 0, len(selected))

    def _select(self, query: dict[str, str], ids: list[int], columns: dict[str, list]) -> list[int]:
        keep = list(range(len(ids)))
        zone = self.data.zone  # naive filter values are local time, as Django reads them
        for key, value in query.items():
            name, _, lookup = key.partition("__")
            if name in DATE_FIELDS and name in columns:
                if self.api.date_only and ("T" in value or ":" in value):
                    raise ValueError(f"{key}: Enter a valid date.")
                column, bound = columns[name], parse_ts(value, zone)
                test = {
                    "gt": bound.__lt__,
                    "gte": bound.__le__,
                    "lt": bound.__gt__,
                    "lte": bound.__ge__,
                    "": bound.__eq__,
                }.get(lookup)
                if test is not None:
                    keep = [i for i in keep if test(column[i])]
            elif name == "status" and "status" in columns and not lookup:
                wanted = set(value.split(","))
                keep = [i for i in keep if columns["status"][i] in wanted]
            elif name == "is_send" and "is_send" in columns and not lookup:
                flag = value.lower() in ("true", "1")
                keep = [i for i in keep if columns["is_send"][i] is flag]
            elif key == "pk__in":
                wanted_ids = {int(v) for v in value.split(",") if v}
                keep = [i for i in keep if ids[i] in wanted_ids]
            elif key == "number" and ids is self.data.ids:
                keep = [i for i in keep if orjson.loads(self.data.order_json(ids[i]))["number"] == value]
        selected = [ids[i] for i in keep]
        if ids is self.data.ids and self.data.deleted:  # deleted orders are gone from the list
            selected = [i for i in selected if i not in self.data.deleted]
        order = query.get(self.api.sort_param, self.api.default_sort)
        for field_name in reversed([s for s in order.split(",") if s]):
            descending, name = field_name.startswith("-"), field_name.lstrip("-")
            if name in ("id", "pk"):
                selected.sort(reverse=descending)
            elif name in columns:
                column, position = columns[name], {v: k for k, v in enumerate(ids)}
                selected.sort(key=lambda i: column[position[i]], reverse=descending)
        return selected

    def page(
        self, query: dict[str, str], ids: Span, render: Callable[[int], bytes], base: str
    ) -> tuple[int, bytes] | tuple[int, bytes, dict[str, str]]:
        """
        One page of ``ids`` as the variant's pagination answers, in the variant's envelope (and its headers,
        where it pages or counts by them); ``base``: ``next`` without its query.
        """
        api = self.api
        if "page_token" in query:  # the position the token stands for, instead of the token
            query = dict(query)
            query |= _untoken(query.pop("page_token"))
        try:
            size = query.get("limit" if api.pagination == "limit_offset" else api.size_param)
            limit = min(int(size or api.page_size), api.max_limit)
        except ValueError:
            return 404, b'{"detail":"Invalid page."}'
        limit = api.fixed_page or limit
        if api.pagination == "none":
            return 200, b"[%s]" % b",".join(render(i) for i in ids.chunk(0, len(ids)))
        if api.pagination == "limit_offset":
            offset = max(0, int(query.get("offset") or 0))
            chunk = ids.chunk(offset, limit)
            more = self._more(offset + len(chunk), len(ids), len(chunk), limit)
            following = {**query, "limit": limit, "offset": offset + limit} if more else None
            return self._answer(query, chunk, render, len(ids), following, base)
        if api.pagination in ("cursor", "link"):
            return self._cursor(query, ids, render, base, limit)
        try:
            page = int(query.get("page", 1) or 1)
        except ValueError:
            return 404, b'{"detail":"Invalid page."}'
        if page < 1 or limit < 1 or (page > 1 and (page - 1) * limit >= len(ids) and api.past_end == "404"):
            return 404, b'{"detail":"Invalid page."}'
        chunk = ids.chunk((page - 1) * limit, limit)
        following = (
            {**query, "page": page + 1}
            if self._more((page - 1) * limit + len(chunk), len(ids), len(chunk), limit)
            else None
        )
        previous = {**query, "page": page - 1} if page > 1 else None
        return self._answer(query, chunk, render, len(ids), following, base, previous)

    def _more(self, reached: int, total: int, got: int, limit: int) -> bool:
        """Whether a page links the next: records lie beyond it (or, ``trailing_empty``, it is full)."""
        return reached < total or (self.api.trailing_empty and got >= limit > 0)

    def _cursor(
        self, query: dict[str, str], ids: Span, render: Callable[[int], bytes], base: str, limit: int
    ) -> tuple[int, bytes] | tuple[int, bytes, dict[str, str]]:
        """DRF's ``CursorPagination``: its own ascending order, an opaque position cursor, no ``count``."""
        ordered = sorted(ids.chunk(0, len(ids)))
        cursor = query.get("cursor")
        after = int(base64.b64decode(cursor).decode().removeprefix("p=")) if cursor else None
        start = bisect.bisect_right(ordered, after) if after is not None else 0
        chunk = ordered[start : start + limit]
        following = None
        if chunk and self._more(start + len(chunk), len(ordered), len(chunk), limit):
            following = {**query, "cursor": base64.b64encode(f"p={chunk[-1]}".encode()).decode()}
        return self._answer(query, chunk, render, len(ordered), following, base)

    def _answer(
        self,
        query: dict[str, str],
        chunk: list[int],
        render: Callable[[int], bytes],
        count: int,
        following: dict[str, Any] | None,
        base: str,
        previous: dict[str, Any] | None = None,
    ) -> tuple[int, bytes, dict[str, str]]:
        """
        A page of ``chunk`` in the variant's envelope (``results``, ``items`` or a top-level array), its count
        and next page where the variant gives them (body, header, a token, or not at all).
        """
        api = self.api
        count_in = api.count_in or ("none" if api.pagination in ("cursor", "link") else "body")
        next_in = api.next_in or ("header" if api.pagination == "link" else "body")
        link = None if following is None else f"{base}?{urlencode(following)}"
        fields: list[tuple[bytes, bytes]] = []
        headers: dict[str, str] = {}
        if count_in == "body":
            fields.append((b"count", b"%d" % (count + api.count_offset)))
        elif count_in == "header":
            headers["X-Total-Count"] = str(count + api.count_offset)
        if next_in == "body":
            fields.append((b"next", orjson.dumps(link)))
        elif next_in == "header" and link is not None:
            headers["Link"] = f'<{link}>; rel="next"'
        elif next_in == "token":
            token = None if following is None else _token(following, query)
            fields.append((b"next_page_token", orjson.dumps(token)))
        if next_in == "body" and api.envelope == "drf":
            fields.append(
                (b"previous", orjson.dumps(None if previous is None else f"{base}?{urlencode(previous)}"))
            )
        records = b",".join(render(i) for i in chunk)
        if api.envelope == "array":
            return 200, b"[%s]" % records, headers
        key = b"items" if api.envelope == "items" else b"results"
        body = b",".join(b'"%s":%s' % field for field in [*fields, (key, b"[%s]" % records)])
        return 200, b"{%s}" % body, headers


#: The query parameters a page token stands for (the position in the list).
POSITION = ("page", "offset", "cursor")


def _token(following: dict[str, Any], query: dict[str, str]) -> str:
    """An opaque token for the next page: its position, base64 of JSON (the other parameters stay the client's)."""
    position = {k: following[k] for k in POSITION if k in following and following[k] != query.get(k)}
    return base64.urlsafe_b64encode(orjson.dumps(position)).decode()


def _untoken(token: str | None) -> dict[str, str]:
    """The position a page token stands for (an unreadable token: the first page)."""
    try:
        return {k: str(v) for k, v in orjson.loads(base64.urlsafe_b64decode(token or "")).items()}
    except (ValueError, AttributeError):
        return {}


def order_columns(data: AkinonData) -> dict[str, Any]:
    """The filterable columns of orders."""
    return {
        "created_date": data.created,
        "modified_date": data.modified,
        "date_placed": data.placed,
        "status": data.status,
        "is_send": data.is_send,
    }
