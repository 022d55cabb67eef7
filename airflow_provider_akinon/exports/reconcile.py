"""One dedupe-and-reconcile rule for page-number walks and per-order children.

Page numbers over data that changes shift records between pages: a record can be seen twice or not at
all. :class:`Distinct` drops the records seen already; :meth:`Distinct.matches` then says whether the
distinct records equal what the API counted, before and after the walk. If not, the walk runs again.
"""

from __future__ import annotations

from airflow_provider_akinon.exports.idset import IdSet
from airflow_provider_akinon.hooks.records import Records


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

    def matches(self, *counts: int | None) -> bool:
        """True when every count the API gave equals the distinct records seen."""
        return all((count or 0) == len(self.ids) for count in counts)


def unexported(records: Records, exported: IdSet | None, key: str) -> tuple[Records, int]:
    """The records an earlier sub-window of the export did not write yet, and how many it did."""
    if exported is None:
        return records, 0
    keys = [int(k) for k in records.field(key, records.keys)]
    fresh = records.take([i for i, key in enumerate(keys) if key not in exported])
    return fresh, len(records) - len(fresh)
