"""De-duplication of the records a walk sees: each record once, however often the pages show it.

Page numbers over data that changes shift records between pages: a record can be seen twice or not at
all. :class:`Distinct` drops the records seen already in a walk; :func:`unexported` drops those an
earlier sub-window wrote. Whether a walk missed one is the settle loop's question
(:mod:`~airflow_provider_akinon.exports.settle`), not this module's.
"""

from __future__ import annotations

from airflow_provider_akinon.exports.idset import IdSet
from airflow_provider_akinon.hooks.paging.records import Records


class Distinct:
    """The distinct records of one walk, by ``key``."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.ids = IdSet()

    def __len__(self) -> int:
        return len(self.ids)

    def fresh(self, records: Records) -> Records:
        """The records of a page not seen before in this walk."""
        add = self.ids.add
        keys = records.field(self.key, records.keys)
        return records.take([index for index, key in enumerate(keys) if add(int(key))])


def unexported(records: Records, exported: IdSet | None, key: str) -> tuple[Records, int]:
    """The records an earlier sub-window of the export did not write yet, and how many it did."""
    if exported is None:
        return records, 0
    keys = [int(k) for k in records.field(key, records.keys)]
    fresh = records.take([i for i, key in enumerate(keys) if key not in exported])
    return fresh, len(records) - len(fresh)
