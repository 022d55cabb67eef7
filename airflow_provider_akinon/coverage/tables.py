"""A Delta or Iceberg table's coverage: its version, and the last hour of the changes feed merged into it.

A table holds the current state (or the history) of a list, not days: what it covers is which partitions
of the changes feed were merged into it. Every row a merge writes carries ``_exported_at``, the
``created_at`` of the export it came from (:func:`~airflow_provider_akinon.exports.tables.merging.merge_export`),
so an hour of the feed whose ``created_at`` is among the table's ``_exported_at`` values was merged. An
older hour may have no row left (each of its records replaced by a newer version): it is listed as found
in no row, which says "overtaken, or never merged", not which.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from airflow_provider_akinon.coverage.partitions import read_partitions
from airflow_provider_akinon.exports.commit.storage import destination_path
from airflow_provider_akinon.exports.tables.delta import Delta
from airflow_provider_akinon.exports.tables.format import TableFormat
from airflow_provider_akinon.timestamps import api_time

EXPORTED_AT = "_exported_at"
#: hours named in the printed table at most (JSON lists them all)
SHOWN = 5


@dataclass
class TableCoverage:
    """
    What a table at ``uri`` holds.

    :param table_format: ``delta`` or ``iceberg``.
    :param version: its version (``None`` before its first commit).
    :param newest_export: the newest ``_exported_at`` of its rows: the latest export merged that left a row.
    :param changes: the changes feed compared with it (``None``: none given).
    :param last_merged: the latest partition of the feed merged into it.
    :param not_merged: the feed's partitions after ``last_merged`` not merged (of those with records).
    :param no_rows: the feed's partitions before ``last_merged`` that left no row (overtaken, or not merged;
        of those with records).
    """

    uri: str
    table_format: str
    version: int | None
    newest_export: str | None = None
    changes: str | None = None
    last_merged: str | None = None
    not_merged: list[str] = field(default_factory=list)
    no_rows: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The table's coverage as JSON-ready values."""
        return dict(self.__dict__)

    def rows(self) -> list[tuple[str, str]]:
        """Questions and answers, for :func:`airflow_provider_akinon.probe.table`."""
        rows = [
            ("table", f"{self.table_format} at {self.uri}"),
            ("version", "none yet" if self.version is None else str(self.version)),
            ("newest _exported_at", self.newest_export or "no rows"),
        ]
        if self.changes is not None:
            rows += [
                ("changes feed", self.changes),
                ("last merged", self.last_merged or "none of its partitions"),
                ("not merged since", _few(self.not_merged)),
                (
                    "older, in no row",
                    _few(self.no_rows) + (" (overtaken, or not merged)" if self.no_rows else ""),
                ),
            ]
        return rows


def _few(names: list[str]) -> str:
    """Up to :data:`SHOWN` names and how many more; ``none`` for none."""
    if not names:
        return "none"
    more = f" and {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    return f"{len(names)}: {', '.join(names[:SHOWN])}{more}"


def exported_at(chosen: TableFormat, table: Any) -> set[datetime]:
    """The distinct ``_exported_at`` values of the table's rows (one column read)."""
    import pyarrow.compute as pc

    if isinstance(chosen, Delta):
        from deltalake import DeltaTable

        from airflow_provider_akinon.exports.tables.current import table_location

        uri, options = table_location(table)
        column = DeltaTable(uri, storage_options=options).to_pyarrow_dataset().to_table(columns=[EXPORTED_AT])
    else:
        from airflow_provider_akinon.exports.tables.iceberg_table import open_table

        column = open_table(table, None).scan(selected_fields=(EXPORTED_AT,)).to_arrow()
    return set(pc.unique(column.column(EXPORTED_AT)).to_pylist()) - {None}


def table_coverage(uri: Any, chosen: TableFormat, *, changes: Any = None) -> TableCoverage:
    """The table at ``uri`` (of the format ``chosen``), and which partitions of ``changes`` it holds."""
    table = destination_path(uri)
    version = chosen.version(table)["table_version"]
    found = TableCoverage(str(table).rstrip("/") + "/", chosen.name, version)
    stamps = exported_at(chosen, table) if version is not None else set()
    found.newest_export = api_time(max(stamps)) if stamps else None
    if changes is None:
        return found
    feed = destination_path(changes)
    found.changes = str(feed).rstrip("/") + "/"
    # an empty export has nothing to merge and leaves no row: neither merged nor not
    exported = [p for p in read_partitions(feed) if p.manifest is not None and p.manifest.get("records")]
    merged = {p.name for p in exported if datetime.fromisoformat(str(p.manifest["created_at"])) in stamps}  # type: ignore[index]
    last = max((p for p in exported if p.name in merged), key=lambda p: p.start, default=None)
    found.last_merged = last.name if last is not None else None
    after = [p for p in exported if p.name not in merged and (last is None or p.start > last.start)]
    found.not_merged = [p.name for p in after]
    found.no_rows = [
        p.name for p in exported if p.name not in merged and last is not None and p.start < last.start
    ]
    return found
