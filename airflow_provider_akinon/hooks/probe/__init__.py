"""
The probe: what a tenant's list honours, asked and judged by the records it returns.

Holds how the probe asks and judges (``questions.py``), the questions about one endpoint
(``honoured.py``: page size, paging style, envelope, sort, key and date lookups, time zones) and its
answers (``capabilities.py``: :class:`~.capabilities.Capabilities`, and the paginator they call for).

May use: paging (pages, paginators, envelopes), the connection, errors, timestamps. Never the HTTP core:
it asks through a ``get`` callable the hook gives it.
"""

from __future__ import annotations
