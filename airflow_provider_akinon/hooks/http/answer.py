"""What crosses from the transport to the request rules (an :class:`Answer`; its failures: ``errors.py``), and
what a decoded answer may ask of them (:class:`ReadsHeaders`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Answer:
    """An HTTP answer as the transports return it: status, body bytes, headers."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


@runtime_checkable
class ReadsHeaders(Protocol):
    """A decoded answer that reads the answer's headers too (a page: its count or next link may be there)."""

    def attach(self, headers: Mapping[str, str]) -> None:
        """Keep the answer's ``headers`` (and read from them what the body did not say)."""
