"""What crosses from the transport to the request rules: an :class:`Answer` (its failures: ``errors.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Answer:
    """An HTTP answer as the transports return it: status, body bytes, headers."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
