"""
Formats: what bytes a record becomes, and the part files an export is staged in.

Holds what a format is (``base.py``: :class:`~.base.Format`, :class:`~.base.Encoder`), JSON Lines
(``jsonl.py``), Parquet (``parquet.py``) and the part writer (``parts.py``: :class:`~.parts.PartWriter`,
:class:`~.parts.PartFile`). The registry of formats by name is ``exports/registry.py``.

May use: pages of records (``hooks/paging/records.py``), resources, timestamps, errors. Never the
commit protocol or tables: a format knows nothing of where its parts land.
"""

from __future__ import annotations
