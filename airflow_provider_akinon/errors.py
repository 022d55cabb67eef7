"""Every error the provider raises: one hierarchy under :class:`AkinonError` (an ``AirflowException``).

Each message names the problem and the fix, and never a secret: server bodies reach a message only as
a short :func:`excerpt` taken after the connection's password and token were cut out of them
(:class:`~airflow_provider_akinon.hooks.redact.Redactor`).
"""

from __future__ import annotations

from airflow_provider_akinon.compat import AirflowException


class AkinonError(AirflowException):
    """Base of every error of this provider."""


class AkinonConfigError(AkinonError):
    """The ``akinon`` connection or an argument is unusable; the message says how to fix it."""


class WindowError(AkinonConfigError):
    """The export window (or id range) is missing, empty or unreadable; the message says how to fix the DAG."""


class AkinonApiError(AkinonError):
    """An Akinon call failed; the message names method, path, status and a short body excerpt."""

    def __init__(self, message: str, *, status: int | None = None, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class AkinonUnreachableError(AkinonApiError):
    """The host did not answer at all (refused, unresolvable, or silent past the timeout)."""


class AkinonPageError(AkinonApiError):
    """A list answered something that is not a page of its records: the message says what came back."""


class ExportConsistencyError(AkinonError):
    """The API's records or counts disagree with what was asked for; nothing was published."""


class DestinationError(AkinonError):
    """The destination cannot be written, or holds what is not ours; the message names path and fix."""


def excerpt(text: str | bytes, limit: int = 200) -> str:
    """A one-line, bounded excerpt of a response body for error messages (redact it first)."""
    if isinstance(text, bytes):
        text = text[: limit * 4].decode("utf-8", "replace")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
