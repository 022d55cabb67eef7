"""
The commit protocol: an export's staged parts published under a lease, exactly once, and pinned to read.

Holds the protocol as generators of storage operations (``protocol.py``, ``ops.py``), the publish lease
and heartbeats (``lease.py``), compare-and-swap on a disk or S3 (``store.py``), the destination's
ownership, staging and publish (``target.py``), its settings (``settings.py``), paths and manifests
(``storage.py``), and parts pinned to a manifest and checked before they are read (``pinned.py``).

May use: errors, compat. Never formats or tables: it knows a format only by the names and suffixes of
the parts it is given (reading records back, through their format, is ``exports/reader.py``).
"""

from __future__ import annotations
