"""How a merged table's data files are laid out by compaction: sorted by key, the newest keys in the smallest files.

A merge rewrites (copy on write) every data file holding a row it replaces. Akinon's changes fall on
recent records (statuses, cancellations and refunds come within days of an order), and recent records
have the highest keys. Compaction therefore sorts the rows it rewrites by key and cuts them from the
highest key down into files of ``tail_rows``, twice that, four times, ... up to ``file_rows``: an hourly
merge rewrites the few small files of the newest keys whatever the table's age, and older keys settle
in large files no merge touches. A file holding at least half of ``file_rows`` (and no more) is settled
and left alone; the others (the tiers, the merges' own files, and a file larger than ``file_rows`` such
as a table's single file written by delta-rs's merges) are compacted again, so a compaction reads about
``2 * file_rows`` rows, plus what was merged since the last one (and, once, a table's oversized files).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from airflow_provider_akinon.errors import AkinonConfigError

#: The newest keys' file holds this many rows ...
TAIL_ROWS = 1_000
#: ... each older file twice the one above it, up to this many.
FILE_ROWS = 50_000


@dataclass(frozen=True)
class Layout:
    """The file sizes compaction cuts a table's rows into (rows per file; see the module)."""

    tail_rows: int = TAIL_ROWS
    file_rows: int = FILE_ROWS

    def __post_init__(self) -> None:
        if not 1 <= self.tail_rows <= self.file_rows:
            raise AkinonConfigError(
                f"tail_rows={self.tail_rows} and file_rows={self.file_rows}: a table's files are cut into "
                "tail_rows rows for the newest keys, growing to file_rows; give 1 <= tail_rows <= file_rows."
            )

    def settled(self, rows: int) -> bool:
        """Whether a file of ``rows`` rows is left alone by compaction: it holds half of ``file_rows`` or
        more, and no more than ``file_rows`` (a larger file, such as one a merge wrote whole, is cut)."""
        return max(2, self.file_rows // 2) <= rows <= self.file_rows

    def cuts(self, total: int) -> list[int]:
        """The rows of each file ``total`` sorted rows are cut into, from the highest key down."""
        sizes, size = [], self.tail_rows
        while total > 0:
            sizes.append(min(size, total))
            total -= sizes[-1]
            size = min(size * 2, self.file_rows)
        return sizes

    def arranged(self, files: list[tuple[int, Any, Any]]) -> bool:
        """Whether ``files`` (the unsettled files' rows, lowest and highest key) are already cut as
        :meth:`cuts` says: nothing to compact. Bounds unknown (``None``): not arranged."""
        if any(low is None or high is None for _, low, high in files):
            return False
        ordered = sorted(files, key=lambda file: file[2], reverse=True)
        if [rows for rows, _, _ in ordered] != self.cuts(sum(rows for rows, _, _ in ordered)):
            return False
        return all(above[1] > below[2] for above, below in itertools.pairwise(ordered))

    def pieces(self, rows: Any, key: str) -> Iterator[Any]:
        """``rows`` (an Arrow table) sorted by ``key`` and cut as :meth:`cuts` says, highest keys first."""
        ordered = rows.sort_by([(key, "descending")])
        start = 0
        for size in self.cuts(len(ordered)):
            yield ordered.slice(start, size).sort_by(key)
            start += size
