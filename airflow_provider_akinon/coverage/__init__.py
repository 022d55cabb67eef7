"""
Coverage: which days of an exported list are in storage, whole, and still what the tenant holds.

Holds the reader of an export root (``reader.py``: :func:`~.reader.read_coverage`, one
:class:`~.days.DayCoverage` a day), the partitions as storage holds them (``partitions.py``: each one's
manifest, lease and staging, read through the commit protocol's own functions, never written), what a
partition's state is and how partitions roll up to days (``days.py``), the tenant's counts of what changed
since each export (``drift.py``: counted requests, a few at a time), Delta and Iceberg tables and the
changes feed merged into them (``tables.py``), the printed table and JSON (``render.py``), and the
command line (``python -m airflow_provider_akinon.coverage``, ``__main__.py``).

May use: exports (commit, tables), hooks (the drift's requests, through ``AkinonHook``), resources,
timestamps, errors, compat. Nothing in the package imports it. This ``__init__`` imports nothing, so the
command line sets Airflow's log level before Airflow is first imported.
"""

from __future__ import annotations
