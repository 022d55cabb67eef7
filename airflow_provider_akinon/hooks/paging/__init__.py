"""
Paging: how a list's answers are read and walked.

Holds where an answer keeps its records, count and next page (``envelope.py``: :class:`Envelope`,
:data:`ENVELOPES`), pages of records as the API sent them (``records.py``: :class:`Page`), their decoding
in C (``decoder.py``), the paging styles (``styles.py``: the paginators and :data:`PAGINATORS`) and the one
loop that walks a list and knows where it ends (``walker.py``).

May use: the connection's defaults (``hooks/config.py``), errors. Never the HTTP core (a walk is given a
``get_page`` callable) or the probe.

What a plug-in registers into is importable from here: ``PAGINATORS`` and ``BasePaginator`` (a paging
style), ``ENVELOPES`` and ``Envelope`` (an answer's shape), ``Page`` (what a paginator reads).
"""

from __future__ import annotations

from airflow_provider_akinon.hooks.paging.envelope import ENVELOPES, Envelope
from airflow_provider_akinon.hooks.paging.records import Page
from airflow_provider_akinon.hooks.paging.styles import (
    PAGINATORS,
    BasePaginator,
    CursorPaginator,
    KeysetPaginator,
    LimitOffsetPaginator,
    PageNumberPaginator,
    Paginator,
)

__all__ = [
    "ENVELOPES",
    "PAGINATORS",
    "BasePaginator",
    "CursorPaginator",
    "Envelope",
    "KeysetPaginator",
    "LimitOffsetPaginator",
    "Page",
    "PageNumberPaginator",
    "Paginator",
]
