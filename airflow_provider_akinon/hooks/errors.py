"""The errors an Akinon call raises, and the bounded body excerpt their messages quote."""

from __future__ import annotations

from airflow_provider_akinon.compat import AirflowException


class AkinonApiError(AirflowException):
    """An Akinon call failed; the message names method, path, status and a short body excerpt."""

    def __init__(self, message: str, *, status: int | None = None, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class AkinonUnreachableError(AkinonApiError):
    """The host did not answer at all (refused, unresolvable, or silent past the timeout)."""


class AkinonConfigError(AirflowException):
    """The ``akinon`` connection or an argument is unusable; the message says how to fix it."""


def excerpt(text: str | bytes, limit: int = 200) -> str:
    """Return a one-line, bounded excerpt of a response body for error messages."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
