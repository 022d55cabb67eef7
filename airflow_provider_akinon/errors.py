"""Every error the provider raises: one hierarchy under :class:`AkinonError` (an ``AirflowException``).

Each message names the problem and the fix, and never a secret: server bodies reach a message only as
a short :func:`excerpt` taken after the connection's password and token were cut out of them
(:class:`~airflow_provider_akinon.hooks.http.redact.Redactor`).
"""

from __future__ import annotations

from typing import Any

import urllib3

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


class SchemaContractError(ExportConsistencyError):
    """A record broke the list's ``schema_contract`` (a new field, a changed type); nothing was published."""


class SchemaConflict(Exception):
    """A field held values of type ``old`` and a page brings ``new``: no type holds both (the contract's to
    settle; :mod:`~airflow_provider_akinon.schema.meet`)."""

    def __init__(self, path: str, old: Any, new: Any) -> None:
        super().__init__(f"{path}: {old} meets {new}")
        self.path, self.old, self.new = path, old, new


class DestinationError(AkinonError):
    """The destination cannot be written, or holds what is not ours; the message names path and fix."""


class ExportIntegrityError(DestinationError):
    """A published file does not match its manifest (sha256, size or records): the message names it."""


class LeaseLostError(DestinationError):
    """Another run took over this run's publish lease (it judged this run dead): nothing of it committed."""


# ---------------------------------------------------------------------------------------------------
# Signals between the transport or the page decoders and the request rules, which turn them into one of
# the errors above (or a retry): never raised to a DAG.


class NotAPageError(ValueError):
    """A 2xx body that is JSON but not a page of a list (``{"detail": "maintenance"}``, no ``results``):
    a server fault, retried like a 5xx."""


class PageShapeError(ValueError):
    """A page whose records are not this list's (not objects, no key, a key that is not an integer), or a
    bare list where a paged envelope was expected: another try will not help."""


class WriteConflict(Exception):
    """A conditional write lost: the object exists (create) or changed since it was read (swap)."""


class PartGone(Exception):
    """A part a manifest lists is neither in its folder nor among the superseded ones (kept past retention)."""


class ShardStopped(Exception):
    """A keyset shard stopped because another shard of its walk failed: that failure is the export's."""


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


def excerpt(text: str | bytes, limit: int = 200) -> str:
    """A one-line, bounded excerpt of a response body for error messages (redact it first)."""
    if isinstance(text, bytes):
        text = text[: limit * 4].decode("utf-8", "replace")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
