"""Decode a list's pages in C (msgspec): :class:`PageDecoder` keeps each record the bytes the API sent.

Decoding every record into Python objects and encoding it again for the file was most of an export's
CPU. Only the primary key, the date and the parent field are decoded, for the cursor and the checks;
JSON Lines writes the records as they came, and Parquet parses them only when it needs them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
import orjson

from airflow_provider_akinon.errors import NotAPageError, PageShapeError
from airflow_provider_akinon.hooks.paging.envelope import ARRAY, DRF, Envelope, unrecognised
from airflow_provider_akinon.hooks.paging.records import Page


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
        listed = isinstance(envelope, list)
        bare = listed and self.allow_bare  # an unpaged list's whole array
        if listed and shape.envelope.records is not None and not self.allow_bare:
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
