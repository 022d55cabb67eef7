"""The ``akinon`` connection's extras, declared once: the form shows them, the config reads them.

Each :class:`Extra` says its label, what it means, its type, its default and its minimum. The
connection form (:mod:`~airflow_provider_akinon.hooks.form`) is built from these declarations and saves
only what a person typed (no defaults: a field left untouched is saved as ``null``, and read as absent);
:func:`read_extras` reads an extra dict by them, with the default for what is absent and a clear error
for what is not of the declared type. Nothing else names an extra.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Extra:
    """One extra of the connection: its form field and how its value is read."""

    name: str
    label: str
    description: str
    kind: str  # "string", "integer", "number" or "boolean"
    default: Any = None
    minimum: float | None = None
    #: the values allowed (a callable: read from a registry when a value is checked)
    choices: tuple[str, ...] | Callable[[], tuple[str, ...]] = ()

    def read(self, value: Any, conn_id: str) -> Any:
        """``value`` as this extra's type (the default when absent, ``null`` or empty)."""
        # imported here: provider info (the form) is read by Airflow while it loads, before this module
        # may import Airflow itself
        from airflow_provider_akinon.errors import AkinonConfigError

        if value is None or value == "":
            return self.default
        if self.kind == "boolean":
            return (
                value
                if isinstance(value, bool)
                else str(value).strip().lower() not in {"false", "0", "no", "off"}
            )
        if self.kind == "string":
            choices = self.choices() if callable(self.choices) else self.choices
            if choices and str(value) not in choices:
                raise AkinonConfigError(
                    f"{self.name}={value!r} on connection {conn_id!r} is not one of {', '.join(choices)}; "
                    "set one of them, or leave it empty."
                )
            return str(value)
        cast = int if self.kind == "integer" else float
        try:
            number = cast(value)
        except (TypeError, ValueError):
            raise AkinonConfigError(
                f"{self.name}={value!r} on connection {conn_id!r} is not a number; set it to a {cast.__name__}"
                f"{f' >= {self.minimum:g}' if self.minimum is not None else ''}."
            ) from None
        if self.minimum is not None and number < self.minimum:
            raise AkinonConfigError(
                f"{self.name} must be >= {self.minimum:g}, got {number!r} (connection {conn_id!r})."
            )
        return number


EXTRAS: tuple[Extra, ...] = (
    Extra("api_prefix", "API prefix", "Path prefix of the REST API on the host; empty: api/v1/ (api/i1/ also works).", "string", "api/v1/"),
    Extra("page_size", "Page size", "Records per page asked for; empty: the largest page the API allows (up to 1,000).", "integer", None, 1),
    Extra("timeout", "Read timeout (seconds)", "Seconds an answer may take to arrive whole; empty: 60.", "number", 60.0, 0.1),
    Extra("connect_timeout", "Connect timeout (seconds)", "Seconds to wait for a connection to the host; empty: 10.", "number", 10.0, 0.1),
    Extra("max_retries", "Max retries", "Retries of one request on 429, 5xx, resets and timeouts; empty: 6.", "integer", 6, 0),
    Extra("backoff", "Backoff (seconds)", "Base of the exponential wait between retries; empty: 1.", "number", 1.0, 0),
    Extra("max_wait", "Max wait (seconds)", "Longest wait before one retry, Retry-After included; a longer Retry-After fails at once; empty: 120.", "number", 120.0, 0),
    Extra("retry_deadline", "Retry deadline (seconds)", "Longest time one request may take with its retries; empty: 900.", "number", 900.0, 0),
    Extra("login_endpoint", "Login endpoint", "Path of the login, relative to the API prefix; empty: auth/login/.", "string", "auth/login/"),
    Extra("timezone", "Time zone of naive timestamps", "IANA zone of timestamps the API writes without an offset; empty: UTC (e.g. Europe/Istanbul).", "string", "UTC"),
    Extra("pagination", "Pagination", "How the lists page, where the probe judges wrongly: page, limit_offset, cursor or a registered paginator's name; empty: as probed.", "string"),
    Extra("sort_param", "Sort parameter", "Query parameter that orders a list: sort or ordering; empty: as probed (sort, then ordering).", "string", None, None, ("sort", "ordering")),
    Extra("size_param", "Page size parameter", "Query parameter that sets the page size: limit or page_size; empty: as probed.", "string", None, None, ("limit", "page_size")),
    Extra("verify", "Verify TLS", "Verify the server's certificate (REQUESTS_CA_BUNDLE names a CA bundle); empty: yes.", "boolean", True),
    Extra("probe_cache", "Kept probe", "Where the probe's answers are kept a day, so tasks skip it: variable (Airflow Variables) or a folder URI (s3://conn@bucket/akinon/probe/); empty: asked by every task.", "string"),
)  # fmt: skip


def read_extras(extra: dict[str, Any] | None, conn_id: str) -> dict[str, Any]:
    """Every declared extra, read from a connection's ``extra`` dict (absent: its default)."""
    given = extra or {}
    return {spec.name: spec.read(given.get(spec.name), conn_id) for spec in EXTRAS}
