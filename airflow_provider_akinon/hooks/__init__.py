"""
Hooks: :class:`~airflow_provider_akinon.hooks.akinon.AkinonHook` and the rooms behind it.

- ``http/``: the HTTP core (every request, its rules, its transport, the token);
- ``paging/``: how a list's answers are read (envelopes, records, decoders) and walked (paginators, the
  walker);
- ``probe/``: what a tenant's list honours, asked and judged;
- this package: the Airflow-facing hook (``akinon.py``), the connection (``config.py``, ``extras.py``,
  ``form.py``, ``connection_test.py``), Akinon's lists (``lists.py``) and ``HttpHook`` compatibility
  (``http_hook.py``).

Dependencies run one way: the facade uses every room; ``probe`` uses ``paging``; ``http`` and ``paging``
use only the connection (``config.py``, ``extras.py``), which uses no room (``scripts/check_house.py``).
"""

from __future__ import annotations
