"""Pages of records as the API sent them: raw JSON bytes (or parsed dicts), and the checked page of an answer.

:class:`Records` keep each record the bytes the API sent (written to JSON Lines as they are), with the
fields a walk reads decoded beside them by :class:`~airflow_provider_akinon.hooks.paging.decoder.PageDecoder`;
records are parsed into dicts only when something needs them (Parquet). :func:`page_of` checks an
already parsed answer (the probe's, a head's).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import orjson

from airflow_provider_akinon.errors import NotAPageError, PageShapeError
from airflow_provider_akinon.hooks.paging.envelope import ARRAY, DRF, ENVELOPES, Envelope, envelope_of


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

    def shows_whole(self) -> bool:
        """
        Whether this first answer shows it holds the whole list: empty, an unpaged array, a ``next`` field
        saying no page follows, or a count it reaches. A page shorter than asked shows nothing (a cap).
        """
        if self.bare or not len(self) or (self.next is None and self.says_next):
            return True
        return self.count is not None and self.count <= len(self)

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
