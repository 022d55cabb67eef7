"""Where a list's answer keeps its records, its count and its next page: :class:`Envelope`, and the registry.

Django REST Framework answers ``{"count", "next", "previous", "results"}`` (Akinon's documented shape, the
default and the fast path). Other APIs keep the records under another key (``items``, ``data``) or answer a
top-level array, give the count in a header (``X-Total-Count``) or not at all, and the next page as a link
in the body, a ``Link`` header, or a token. An envelope says where each is; the probe recognises it from the
first answer (the first known envelope its body fits: :data:`ENVELOPES`, then those the registered
paginators declare, see :func:`~airflow_provider_akinon.hooks.paging.styles.known_envelopes`), and every page of
the list is then decoded by it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_provider_akinon.errors import NotAPageError, PageShapeError

#: ``<url>; rel="next"`` in a ``Link`` header (RFC 8288), among other links.
_LINK = re.compile(r'<([^>]*)>\s*;[^,]*?rel="?next"?', re.IGNORECASE)


@dataclass(frozen=True)
class Envelope:
    """
    The shape of a list's answer.

    :param name: what the probe and the manifest call it (``drf``).
    :param records: the body's key of the records list; ``None``: the body is a top-level array.
    :param count: the body's key of the list's count (``None``: none in the body).
    :param next: the body's key of the next page: a link (DRF) or a token a paginator sends back.
    :param count_header: a header holding the count, read where the body has none (``X-Total-Count``).
    :param next_header: a header holding the next page, read where the body has none: ``Link`` (its
        ``rel="next"`` link), or any other header's whole value (a token).
    """

    name: str
    records: str | None = "results"
    count: str | None = "count"
    next: str | None = "next"
    count_header: str | None = "X-Total-Count"
    next_header: str | None = "Link"

    def fits(self, body: Any) -> bool:
        """Whether a parsed answer has this shape: its records where this envelope keeps them."""
        if self.records is None:
            return isinstance(body, list)
        return isinstance(body, dict) and isinstance(body.get(self.records), list)

    def count_in(self, headers: Mapping[str, str]) -> int | None:
        """The count a header gives (``None``: none); a count that is not a number is refused."""
        value = headers.get(self.count_header) if self.count_header else None
        if value is None:
            return None
        if not value.strip().isdigit():
            raise PageShapeError(f"its {self.count_header} header is {value[:40]!r}, not a count")
        return int(value)

    def next_in(self, headers: Mapping[str, str]) -> str | None:
        """The next page a header gives (``None``: none)."""
        value = headers.get(self.next_header) if self.next_header else None
        if not value:
            return None
        if self.next_header and self.next_header.lower() == "link":
            found = _LINK.search(value)
            return found[1] if found else None
        return value

    def describe(self) -> str:
        """Where this envelope keeps the records, for messages (``a 'results' list``)."""
        return "a top-level array" if self.records is None else f"a {self.records!r} list"


#: Django REST Framework's envelope (Akinon's): ``results``, ``count``, ``next``.
DRF = Envelope("drf")
#: A top-level array, its count and next page (where given) in headers.
ARRAY = Envelope("array", records=None, count=None, next=None)

#: The envelopes the probe recognises, in the order it tries them (DRF first: the fast path). A new shape
#: is one line: ``ENVELOPES["items"] = Envelope("items", records="items", count="total")``.
ENVELOPES: dict[str, Envelope] = {DRF.name: DRF, ARRAY.name: ARRAY}


def envelope_of(body: Any, candidates: Sequence[Envelope]) -> Envelope:
    """The first of ``candidates`` that ``body`` fits; an error naming what it lacked otherwise."""
    for envelope in candidates:
        if envelope.fits(body):
            return envelope
    raise unrecognised(body, candidates)


def unrecognised(body: Any, candidates: Sequence[Envelope]) -> ValueError:
    """
    Why ``body`` is not a page: a body holding a list of objects under a key no envelope reads will not
    heal (:class:`PageShapeError`, it names the key and the fix); one without records (``{"detail":
    "maintenance"}``) may (:class:`NotAPageError`, retried).
    """
    expected = " or ".join(e.describe() for e in candidates)
    if isinstance(body, dict):
        lists = [k for k, v in body.items() if isinstance(v, list) and v and isinstance(v[0], dict)]
        if lists:
            return PageShapeError(
                f"its records are under {lists[0]!r}, and no envelope known reads them there (expected "
                f"{expected}): register an Envelope(records={lists[0]!r}, ...) in "
                "airflow_provider_akinon.hooks.paging.envelope.ENVELOPES, or a paginator declaring one"
            )
        return NotAPageError(
            f"it has no records list (expected {expected}; keys: {', '.join(list(body)[:8])})"
        )
    if isinstance(body, list):
        return PageShapeError(f"a bare list of {len(body)} records, without the paging envelope ({expected})")
    return NotAPageError(f"it is a JSON {type(body).__name__}, not a page (expected {expected})")
