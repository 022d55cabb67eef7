"""Secrets cut out of whatever a server echoes, before it reaches a message or a log.

A server may echo what it was sent (a login answer quoting the password, a proxy page quoting a
header). Airflow's masker only knows a secret as it was registered, so a JSON-escaped (``\\u00fc``) or
URL-encoded echo would slip past it: :class:`Redactor` knows every spelling of the connection's password
and of each token, cuts them out of text, and registers each spelling with Airflow's masker too.
"""

from __future__ import annotations

import json
import threading
from urllib.parse import quote, quote_plus

from airflow_provider_akinon.compat import mask_secret
from airflow_provider_akinon.errors import excerpt

MASK = "***"
#: Shorter values are not secrets worth cutting out (and would cut common words out of bodies).
MIN_SECRET = 4


def spellings(secret: str) -> set[str]:
    """How ``secret`` may appear in a body: plain, JSON-escaped (ASCII or not), URL-encoded."""
    forms = {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
    }
    return {form for form in forms if len(form) >= MIN_SECRET}


class Redactor:
    """The secrets of one connection (password, tokens), cut out of any text given to :meth:`__call__`."""

    def __init__(self, *secrets: str | None) -> None:
        self._forms: list[str] = []
        self._lock = threading.Lock()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        """Know ``secret`` from now on (and have Airflow's masker know each of its spellings)."""
        if not secret:
            return
        with self._lock:
            for form in spellings(secret) - set(self._forms):
                mask_secret(form)
                self._forms.append(form)
            self._forms.sort(key=len, reverse=True)  # longest first: no secret is half cut

    def __call__(self, text: str | bytes) -> str:
        """``text`` with every known spelling of a secret replaced by ``***``."""
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        for form in self._forms:
            if form in text:
                text = text.replace(form, MASK)
        return text

    def excerpt(self, body: str | bytes, limit: int = 200) -> str:
        """A short excerpt of ``body`` with every secret cut out (cut before it is shortened)."""
        return excerpt(self(body[: limit * 4 + 1024]), limit)
