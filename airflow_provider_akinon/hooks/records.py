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
from airflow_provider_akinon.hooks.envelope import ARRAY, DRF, ENVELOPES, Envelope, envelope_of, unrecognised


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
    One page of a list: the API's ``count`` (``None`` where the answer carries none) and ``next`` (a link, or
    a token); ``bare``: the list answered a plain array it does not page, the whole list at once;
    ``says_next``: the body has a ``next`` field (``null`` on the last page, as Django REST Framework's
    paginations write it); ``envelope``: the shape it was read by; ``headers``: the answer's, attached by
    the request rules (:meth:`attach`), for paginators that page by them.
    """

    __slots__ = ("bare", "count", "envelope", "headers", "next", "says_next")

    def __init__(
        self,
        count: int | None,
        next: str | None,
        *,
        bare: bool = False,
        says_next: bool = True,
        envelope: Envelope = DRF,
        **records: Any,
    ) -> None:
        super().__init__(**records)
        self.count = count
        self.next = next
        self.bare = bare
        self.says_next = says_next
        self.envelope = envelope
        self.headers: Mapping[str, str] = {}

    def attach(self, headers: Mapping[str, str]) -> None:
        """Keep the answer's ``headers``, and read the count and next page from them where the body has none."""
        self.headers = headers
        if self.count is None:
            self.count = self.envelope.count_in(headers)
        if self.next is None and not self.says_next:
            self.next = self.envelope.next_in(headers)

    def envelope_dict(self) -> dict[str, Any]:
        """The page as Django REST Framework's JSON envelope (``count``, ``next``, ``previous``, ``results``)."""
        return {"count": self.count, "next": self.next, "previous": None, "results": self.parsed}


def page_of(
    body: Any,
    *,
    key: str | None = None,
    allow_bare: bool = False,
    envelopes: Sequence[Envelope] = tuple(ENVELOPES.values()),
) -> Page:
    """
    A :class:`Page` of an already parsed answer, checked: the records where the first of ``envelopes``
    that fits keeps them, each an object (carrying ``key`` when given). ``allow_bare``: a top-level array
    is the whole list (a list that does not page).
    """
    if isinstance(body, list) and allow_bare:
        return _checked(body, len(body), None, key, bare=True, envelope=ARRAY)
    envelope = envelope_of(body, envelopes)
    if envelope.records is None:
        return _checked(body, None, None, key, says_next=False, envelope=envelope)
    count = body.get(envelope.count) if envelope.count else None
    link = body.get(envelope.next) if envelope.next else None
    if (count is not None and not isinstance(count, int)) or (link is not None and not isinstance(link, str)):
        raise NotAPageError(f"its {envelope.count} or {envelope.next} is not a number or a link")
    says_next = bool(envelope.next) and envelope.next in body
    return _checked(body[envelope.records], count, link, key, says_next=says_next, envelope=envelope)


def _checked(
    results: list[Any],
    count: int | None,
    link: str | None,
    key: str | None,
    *,
    bare: bool = False,
    says_next: bool = True,
    envelope: Envelope = DRF,
) -> Page:
    for position, record in enumerate(results):
        if not isinstance(record, dict):
            raise PageShapeError(f"record {position} of the page is {type(record).__name__}, not an object")
        if key is not None and key not in record:
            raise PageShapeError(f"record {position} of the page has no {key!r}")
    return Page(count, link, bare=bare, says_next=says_next, envelope=envelope, parsed=list(results))


def decode_page(
    body: bytes,
    *,
    key: str | None = None,
    allow_bare: bool = False,
    envelopes: Sequence[Envelope] = tuple(ENVELOPES.values()),
) -> Page:
    """Parse and check a page body (``ValueError`` when it is not JSON); see :func:`page_of`."""
    return page_of(orjson.loads(body), key=key, allow_bare=allow_bare, envelopes=envelopes)


class _Shape:
    """The msgspec decoders of one envelope: its records kept raw, and the heads a walk reads."""

    def __init__(self, envelope: Envelope, head: Any) -> None:
        self.envelope = envelope
        if envelope.records is None:
            self.body: Any = msgspec.json.Decoder(list[msgspec.Raw])
            self.heads: Any = msgspec.json.Decoder(list[head])
            return
        shape: list[Any] = [("results", list[msgspec.Raw])]
        rename = {"results": envelope.records}
        if envelope.count:
            shape.append(("count", int | None, None))
            rename["count"] = envelope.count
        if envelope.next:
            shape.append(("next", str | None | msgspec.UnsetType, msgspec.UNSET))
            rename["next"] = envelope.next
        body: Any = msgspec.defstruct("Envelope", shape, rename=rename)
        heads: Any = msgspec.defstruct(
            "Heads", [("results", list[head])], rename={"results": envelope.records}
        )
        self.body = msgspec.json.Decoder(body | list[msgspec.Raw])
        self.heads = msgspec.json.Decoder(heads | list[head])


class PageDecoder:
    """
    Decode list pages in C: records stay raw; only ``key`` (as int), ``date_field`` and ``parent`` are read.

    Raises ``ValueError`` for a body that is not JSON, :class:`NotAPageError` for JSON that is not a page
    (both retried by the request rules: a proxy or a tenant in maintenance heals), and
    :class:`PageShapeError` for records that are not this list's (which will not heal).

    :param envelope: where the answer keeps its records, count and next page (the probe found it); or
        several, tried in order until one fits (lists never probed, such as an order's items), the one that
        fitted tried first from then on.
    :param allow_bare: a bare JSON array is one whole page (lists that answer without paging).
    """

    def __init__(
        self,
        key: str,
        date_field: str | None = None,
        parent: str | None = None,
        *,
        allow_bare: bool = False,
        envelope: Envelope | Sequence[Envelope] = DRF,
    ) -> None:
        self.key, self.date_field, self.parent, self.allow_bare = key, date_field, parent, allow_bare
        fields = [(key, Any)] + [(name, Any, None) for name in (date_field, parent) if name]
        head: Any = msgspec.defstruct("Head", fields, forbid_unknown_fields=False)
        candidates = [envelope] if isinstance(envelope, Envelope) else list(envelope)
        self._shapes = [_Shape(candidate, head) for candidate in candidates]
        self._arrays = any(candidate.records is None for candidate in candidates)

    @property
    def envelope(self) -> Envelope:
        """The envelope tried first."""
        return self._shapes[0].envelope

    def __call__(self, body: bytes) -> Page:
        """Decode one answer's body into a :class:`Page`."""
        shapes = self._shapes
        for shape in shapes:
            try:
                envelope = shape.body.decode(body)
            except msgspec.ValidationError:
                continue
            except msgspec.DecodeError as err:
                raise ValueError(f"not JSON: {err}") from None
            if isinstance(envelope, list) and shape.envelope.records and not self.allow_bare and self._arrays:
                continue  # a top-level array, and an envelope of arrays is among those to try
            if shape is not shapes[0]:  # this list answers in another shape: try it first from now on
                self._shapes = [shape, *(s for s in shapes if s is not shape)]
            return self._page(shape, envelope, body)
        raise self._unfit(body)

    def _page(self, shape: _Shape, envelope: Any, body: bytes) -> Page:
        bare = isinstance(envelope, list) and shape.envelope.records is not None
        if bare and not self.allow_bare:
            raise PageShapeError(
                f"a bare list of {len(envelope)} records, without the paging envelope ({shape.envelope.describe()})"
            )
        if isinstance(envelope, list):
            raw, count, link, says_next = envelope, (len(envelope) if bare else None), None, bare
        else:
            says_next = getattr(envelope, "next", msgspec.UNSET) is not msgspec.UNSET
            raw, count = envelope.results, getattr(envelope, "count", None)
            link = envelope.next if says_next else None
        try:
            heads = shape.heads.decode(body)
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
            bare=bare,
            says_next=says_next,
            envelope=ARRAY if bare else shape.envelope,
            raw=raw,
            keys=keys,
            dates=[getattr(head, self.date_field) for head in heads] if self.date_field else None,
            parents=[getattr(head, self.parent) for head in heads] if self.parent else None,
        )

    def _unfit(self, body: bytes) -> ValueError:
        """Why a JSON body fits no envelope (parsed again: this is the rare path)."""
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError as err:
            return ValueError(f"not JSON: {err}")
        envelopes = [shape.envelope for shape in self._shapes]
        fitting = next((e for e in envelopes if e.fits(parsed)), None)
        if fitting is not None:  # the records are there: their count or next is what does not fit
            return NotAPageError(f"its {fitting.count} or {fitting.next} is not a number or a link")
        return unrecognised(parsed, envelopes)


def _is_int(value: Any) -> bool:
    try:
        int(value)
    except (TypeError, ValueError):
        return False
    return not isinstance(value, float) or value.is_integer()
