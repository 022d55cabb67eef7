"""A table's rows by the values of one column, Delta or Iceberg: the children of deleted parents, and the
tombstones a history table of children keeps of its deleted parents (key: ``-parent``)."""

from __future__ import annotations

from typing import Any

from airflow_provider_akinon.exports.tables.current import DELETED, table_location
from airflow_provider_akinon.exports.tables.iceberg import Iceberg
from airflow_provider_akinon.exports.tables.iceberg_table import open_table as open_iceberg


def rows_where(
    chosen: Any, at: Any, column: str, values: list[Any], columns: list[str], below: str | None = None
) -> dict:
    """The ``columns`` of the table's rows whose ``column`` is one of ``values`` (and whose ``below`` is
    negative, if given: a tombstone's key; the files of other keys skipped by their statistics), as lists."""
    if chosen.name == Iceberg.name:
        from pyiceberg.expressions import And, In, LessThan

        where = In(column, values) if below is None else And(LessThan(below, 0), In(column, values))
        table = open_iceberg(at, None).scan(row_filter=where, selected_fields=tuple(columns)).to_arrow()
    else:
        import pyarrow.compute as pc
        from deltalake import DeltaTable

        location, options = table_location(at)
        dataset = DeltaTable(location, storage_options=options).to_pyarrow_dataset()
        where = pc.field(column).isin(values)
        table = dataset.to_table(
            filter=where if below is None else (pc.field(below) < 0) & where, columns=columns
        )
    return {name: table.column(name).to_pylist() for name in columns}


def parents_deleted(chosen: Any, at: Any, key: str, parent: str, parents: list[Any]) -> dict[Any, list[dict]]:
    """The deletions of ``parents`` a history table of children holds as tombstones (key: ``-parent``),
    by parent: the children merged after their parent's deletion are retired by them too."""
    if not parents or chosen.columns(at) is None:
        return {}
    columns = [key, parent, DELETED, "_record", "_exported_at"]
    found = rows_where(chosen, at, parent, parents, columns, below=key)
    deleted: dict[Any, list[dict]] = {}
    for row in zip(*(found[name] for name in columns), strict=True):
        tomb = dict(zip(columns, row, strict=True))
        if tomb[DELETED] is not None and tomb[key] == -tomb[parent]:
            deleted.setdefault(tomb[parent], []).append(tomb)
    return deleted
