"""Pages of records as the API sent them: raw JSON bytes, with only the fields a walk reads decoded.

Decoding every record into Python objects and encoding it again for the file was most of an export's
CPU. :class:`PageDecoder` reads a page in C (msgspec): each record stays the bytes the API sent (written
to JSON Lines as they are), and only the primary key, the date and the parent field are decoded, for
the cursor and the checks. Records are parsed into dicts only when something needs them (Parquet).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import msgspec
import orjson

from airflow_provider_akinon.errors import NotAPageError, PageShapeError


class Records:
    """
    A batch of records: ``raw`` JSON bytes of each (parsed on demand), or already ``parsed`` dicts.
    ``keys``, ``dates`` and ``parents`` hold the fields a decoder read, when it read them.
    """

    __slots__ = ("_parsed", "dates", "keys", "parents", "raw")

    def __init__(
        self,
        *,
        raw: Sequence[Any] | None = None,
        parsed: list[dict[str, Any]] | None = None,
        keys: list[Any] | None = None,
        dates: list[Any] | None = None,
        parents: list[Any] | None = None,
    ) -> None:
        self.raw = raw
        self._parsed = parsed
        self.keys = keys
        self.dates = dates
        self.parents = parents

    def __len__(self) -> int:
        return len(self.raw) if self.raw is not None else len(self._parsed or ())

    @property
    def parsed(self) -> list[dict[str, Any]]:
        """The records as dicts, parsed from ``raw`` on first use."""
        if self._parsed is None:
            self._parsed = [orjson.loads(bytes(raw)) for raw in self.raw or ()]
        return self._parsed

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.parsed)

    def field(self, name: str, decoded: list[Any] | None) -> list[Any]:
        """The values of top-level field ``name`` of each record (read by the decoder, or parsed)."""
        return decoded if decoded is not None else [record.get(name) for record in self.parsed]

    def jsonl(self) -> bytes:
        """The records as JSON Lines: the API's own bytes (one line each, see :class:`PageDecoder`)."""
        if self.raw is not None:
            return b"\n".join(self.raw) + b"\n" if self.raw else b""
        return b"".join(orjson.dumps(record) + b"\n" for record in self.parsed)

    def texts(self) -> list[str]:
        """Each record as JSON text (Parquet's ``_record`` column)."""
        if self.raw is not None:
            return [bytes(raw).decode() for raw in self.raw]
        return [orjson.dumps(record).decode() for record in self.parsed]

    @staticmethod
    def concat(batches: Sequence[Records]) -> Records:
        """One batch of the records of ``batches``, in order."""
        if len(batches) == 1:
            return batches[0]

        def joined(name: str) -> list[Any] | None:
            parts = [getattr(batch, name) for batch in batches]
            return None if any(part is None for part in parts) else [v for part in parts for v in part]

        if all(batch.raw is not None for batch in batches):
            return Records(
                raw=joined("raw"), keys=joined("keys"), dates=joined("dates"), parents=joined("parents")
            )
        return Records(parsed=[record for batch in batches for record in batch.parsed])

    def take(self, indices: Sequence[int]) -> Records:
        """The records at ``indices``, in that order."""
        if len(indices) == len(self) and list(indices) == list(range(len(self))):
            return self

        def pick(values: Sequence[Any] | None) -> list[Any] | None:
            return None if values is None else [values[i] for i in indices]

        return Records(
            raw=pick(self.raw),
            parsed=pick(self._parsed),
            keys=pick(self.keys),
            dates=pick(self.dates),
            parents=pick(self.parents),
        )


class Page(Records):
    """
    One page of a list: the API's ``count`` (``None`` where the paging carries none) and ``next`` link;
    ``bare``: the list answered a plain array, the whole list at once; ``says_next``: the answer has a
    ``next`` field (``null`` on the last page, as Django REST Framework's paginations write it);
    ``headers``: the answer's (set by the request rules), for paginators that page by them (``Link``).
    """

    __slots__ = ("bare", "count", "headers", "next", "says_next")

    def __init__(
        self,
        count: int | None,
        next: str | None,
        *,
        bare: bool = False,
        says_next: bool = True,
        **records: Any,
    ) -> None:
        super().__init__(**records)
        self.count = count
        self.next = next
        self.bare = bare
        self.says_next = says_next
        self.headers: Mapping[str, str] = {}

    def tells_end(self, limit: int) -> bool:
        """Whether a missing next link means the list ended: the answer has a count or a ``next`` field, or
        holds fewer than the ``limit`` records asked for."""
        return self.count is not None or self.says_next or len(self) < limit

    def envelope(self) -> dict[str, Any]:
        """The page as the API's JSON envelope (``count``, ``next``, ``previous``, ``results``)."""
        return {"count": self.count, "next": self.next, "previous": None, "results": self.parsed}


def page_of(body: Any, *, key: str | None = None, allow_bare: bool = False) -> Page:
    """
    A :class:`Page` of an already parsed answer, checked: an object with a ``results`` list of objects
    (carrying ``key`` when given). A bare list is one page only where ``allow_bare``.
    """
    if isinstance(body, list):
        if not allow_bare:
            raise PageShapeError(
                f"a bare list of {len(body)} records, without the paging envelope (count, next)"
            )
        return _checked(body, len(body), None, key, bare=True)
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        raise NotAPageError("it has no results list")
    count, link = body.get("count"), body.get("next")
    if (count is not None and not isinstance(count, int)) or (link is not None and not isinstance(link, str)):
        raise NotAPageError("its count or next is not a number or a link")
    return _checked(body["results"], count, link, key, says_next="next" in body)


def _checked(
    results: list[Any],
    count: int | None,
    link: str | None,
    key: str | None,
    *,
    bare: bool = False,
    says_next: bool = True,
) -> Page:
    for position, record in enumerate(results):
        if not isinstance(record, dict):
            raise PageShapeError(f"record {position} of the page is {type(record).__name__}, not an object")
        if key is not None and key not in record:
            raise PageShapeError(f"record {position} of the page has no {key!r}")
    return Page(count, link, bare=bare, says_next=says_next, parsed=list(results))


def decode_page(body: bytes, *, key: str | None = None, allow_bare: bool = False) -> Page:
    """Parse and check a page body (``ValueError`` when it is not JSON)."""
    return page_of(orjson.loads(body), key=key, allow_bare=allow_bare)


class PageDecoder:
    """
    Decode list pages in C: records stay raw; only ``key`` (as int), ``date_field`` and ``parent`` are read.

    Raises ``ValueError`` for a body that is not JSON, :class:`NotAPageError` for JSON that is not a page
    (both retried by the request rules: a proxy or a tenant in maintenance heals), and
    :class:`PageShapeError` for records that are not this list's (which will not heal).

    :param allow_bare: a bare JSON array is one whole page (lists that answer without paging).
    """

    def __init__(
        self, key: str, date_field: str | None = None, parent: str | None = None, *, allow_bare: bool = False
    ) -> None:
        self.key, self.date_field, self.parent, self.allow_bare = key, date_field, parent, allow_bare
        fields = [(key, Any)] + [(name, Any, None) for name in (date_field, parent) if name]
        head: Any = msgspec.defstruct("Head", fields, forbid_unknown_fields=False)
        envelope = msgspec.defstruct(
            "Envelope",
            [
                ("results", list[msgspec.Raw]),
                ("count", int | None, None),
                ("next", str | None | msgspec.UnsetType, msgspec.UNSET),
            ],
        )
        self._envelope = msgspec.json.Decoder(envelope | list[msgspec.Raw])
        self._heads = msgspec.json.Decoder(msgspec.defstruct("Heads", [("results", list[head])]) | list[head])

    def __call__(self, body: bytes) -> Page:
        """Decode one answer's body into a :class:`Page`."""
        try:
            envelope = self._envelope.decode(body)
        except msgspec.ValidationError as err:
            raise NotAPageError(str(err)) from None
        except msgspec.DecodeError as err:
            raise ValueError(f"not JSON: {err}") from None
        if isinstance(envelope, list):
            if not self.allow_bare:
                raise PageShapeError(
                    f"a bare list of {len(envelope)} records, without the paging envelope (count, next)"
                )
            raw, count, link, says_next = envelope, len(envelope), None, True
        else:
            says_next = envelope.next is not msgspec.UNSET
            raw, count, link = envelope.results, envelope.count, envelope.next if says_next else None
        try:
            heads = self._heads.decode(body)
        except msgspec.ValidationError as err:
            raise PageShapeError(f"its records are not objects with {self.key!r}: {err}") from None
        if b"\n" in body:  # pretty-printed: records become one line each, as JSON Lines needs
            raw = [orjson.dumps(orjson.loads(bytes(record))) for record in raw]
        heads = heads if isinstance(heads, list) else heads.results
        try:
            keys = [int(getattr(head, self.key)) for head in heads]
        except (TypeError, ValueError):
            bad = next(i for i, h in enumerate(heads) if not _is_int(getattr(h, self.key)))
            raise PageShapeError(
                f"record {bad} of the page has {self.key}={getattr(heads[bad], self.key)!r}, not an integer"
            ) from None
        return Page(
            count,
            link,
            bare=isinstance(envelope, list),
            says_next=says_next,
            raw=raw,
            keys=keys,
            dates=[getattr(head, self.date_field) for head in heads] if self.date_field else None,
            parents=[getattr(head, self.parent) for head in heads] if self.parent else None,
        )


def _is_int(value: Any) -> bool:
    try:
        int(value)
    except (TypeError, ValueError):
        return False
    return not isinstance(value, float) or value.is_integer()
