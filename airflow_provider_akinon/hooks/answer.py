"""What crosses from the transport to the request rules: an :class:`Answer`, or one of its own failures."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import urllib3


@dataclass(frozen=True)
class Answer:
    """An HTTP answer as the transports return it: status, body bytes, headers."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


class BodyTooLargeError(urllib3.exceptions.HTTPError):
    """An answer's body is larger than the transport allows; it was not read further."""

    def __init__(self, size: int) -> None:
        super().__init__(f"the answer's body is larger than {size // (1024 * 1024)} MB")
        self.size = size


class AnswerTimeoutError(urllib3.exceptions.ReadTimeoutError):
    """
    The answer did not arrive whole within its deadline (a slow or dripping server); ``began``: its
    status line had arrived (the host answers, slowly).
    """

    began = False
