"""
Tables: exports merged into Delta Lake or Apache Iceberg, as current state or as history.

Holds what a table format is (``format.py``: :class:`~.format.TableFormat`, staged as Parquet), the
current state's rules row by row (``versions.py``) and as Delta's merge (``current.py``), history
(``history.py``, ``history_options.py``), the formats (``delta.py``, ``delta_maintain.py``; ``iceberg.py``
with its catalog and commit in ``iceberg_table.py``, ``iceberg_snapshot.py``, ``iceberg_maintain.py``),
the files' layout compaction keeps (``layout.py``), deletions (``deletions.py``, ``tombstones.py``) and
:func:`~.merging.merge_export` (``merging.py``).

May use: formats (Parquet), the commit protocol (pinned reads), reading an export back
(``exports/reader.py``), resources, errors, compat.
"""

from __future__ import annotations
