"""The current state of a list in an Apache Iceberg table (PyIceberg): merges and deletions, one commit each.

The table at a destination folder is ``akinon.<folder name>`` in a catalog: the catalog of the Airflow
connection ``iceberg_default`` where one exists (its extras are PyIceberg's catalog properties: ``type``
``rest`` or ``sql``, ``uri``, ``warehouse``, credentials), else a SQL catalog on SQLite kept in the folder
itself (``_akinon/iceberg.db``; local folders only), so a table needs no server.

A merge reads the table's rows of the changed keys, decides each row by the rules of
:mod:`~airflow_provider_akinon.exports.tables.versions` (the Delta table's rules) and replaces those rows
in one commit (an overwrite filtered on the keys). A commit is refused when another writer committed
since the rows were read (PyIceberg's own retries are off on these tables: they would replay the same
rows on a newer table); the merge then reads again, up to five times. A failed export commits nothing.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from airflow_provider_akinon.compat import ObjectStoragePath
from airflow_provider_akinon.errors import DestinationError, ExportConsistencyError
from airflow_provider_akinon.exports.tables.versions import Row

log = logging.getLogger(__name__)

MAX_COMMITS = 5
NAMESPACE = "akinon"
CATALOG_CONN_ID = "iceberg_default"
#: PyIceberg replays a commit that lost a race on the newer table; a merge must decide its rows again.
NO_RETRIES = {"commit.retry.num-retries": "0"}


def catalog_for(table: ObjectStoragePath) -> tuple[Any, str, str]:
    """The catalog of the table at ``table``, its identifier, and its location."""
    props = _connection_properties()
    location = _location(table)
    name = Path(str(table.path).rstrip("/")).name or "table"
    identifier = f"{NAMESPACE}.{name}"
    if props:
        from pyiceberg.catalog import load_catalog

        return load_catalog("akinon", **props), identifier, location
    if table.protocol not in ("", "file", "local"):
        raise DestinationError(
            f"file_format='iceberg' at {table} needs a catalog: create the Airflow connection "
            f"{CATALOG_CONN_ID!r} with PyIceberg's catalog properties in its extras (type, uri, warehouse)."
        )
    from pyiceberg.catalog.sql import SqlCatalog

    folder = Path(table.path) / "_akinon"
    folder.mkdir(parents=True, exist_ok=True)
    catalog = SqlCatalog("akinon", uri=f"sqlite:///{folder / 'iceberg.db'}", warehouse=location)
    return catalog, identifier, location


def _location(table: ObjectStoragePath) -> str:
    protocol = table.protocol or "file"
    path = str(table.path).rstrip("/")
    return f"file://{path}" if protocol in ("file", "local") else f"{protocol}://{path}"


def _connection_properties() -> dict[str, str]:
    from airflow_provider_akinon.compat import BaseHook

    try:
        conn = BaseHook.get_connection(CATALOG_CONN_ID)
    except Exception:  # no such connection: the folder's own catalog
        return {}
    return {str(k): str(v) for k, v in (conn.extra_dejson or {}).items()}


def open_table(table: ObjectStoragePath, schema: Any) -> Any:
    """The Iceberg table at ``table``, created with ``schema`` (a ``pyarrow.Schema``) if there is none."""
    from pyiceberg.exceptions import NamespaceAlreadyExistsError, NoSuchTableError, TableAlreadyExistsError

    catalog, identifier, location = catalog_for(table)
    try:
        return catalog.load_table(identifier)
    except NoSuchTableError:
        if schema is None:
            raise DestinationError(f"{table} holds no Iceberg table yet.") from None
    with contextlib.suppress(NamespaceAlreadyExistsError):
        catalog.create_namespace(NAMESPACE)
    try:
        return catalog.create_table(identifier, schema=schema, location=location, properties=NO_RETRIES)
    except TableAlreadyExistsError:  # another writer created it first
        return catalog.load_table(identifier)


def is_iceberg(table: ObjectStoragePath) -> bool:
    """Whether ``table`` holds an Iceberg table of this provider (its metadata, or its folder's catalog)."""
    return (table / "metadata").exists() or (table / "_akinon" / "iceberg.db").exists()


def rows_where(table: Any, row_filter: Any) -> list[Row]:
    """The table's rows matching ``row_filter`` (a PyIceberg expression)."""
    return table.scan(row_filter=row_filter).to_arrow().to_pylist()


def commit(
    table_at: ObjectStoragePath,
    schema: Any,
    decide: Callable[[Any], tuple[list[Row], Any]],
    what: str,
) -> dict[str, Any]:
    """
    Read and decide on the current table, then replace the rows decided in one commit; decide again on
    the newer table when another writer committed first.

    :param decide: given the table, the rows to write and the filter of the rows they replace (``None``:
        they replace none, and are appended).
    """
    from pyiceberg.exceptions import CommitFailedException

    for attempt in range(1, MAX_COMMITS + 1):
        table = open_table(table_at, schema)
        rows, replaced = decide(table)
        if not rows:  # nothing changes: no commit, no new snapshot
            return {"table": table.location(), "table_version": _version(table), "rows": 0}
        arrow = _arrow(rows, table.schema().as_arrow())
        try:
            with table.transaction() as tx:
                if tx.table_metadata.properties.get("commit.retry.num-retries") != "0":
                    tx.set_properties(NO_RETRIES)
                if replaced is None:
                    tx.append(arrow)
                else:  # the replaced rows deleted and the decided ones appended, in one commit
                    tx.overwrite(arrow, overwrite_filter=replaced)
        except CommitFailedException as err:
            log.warning(
                "Another writer committed to %s first (%s); %s again (%d)", table_at, err, what, attempt
            )
            continue
        table = open_table(table_at, None)
        return {"table": table.location(), "table_version": _version(table), "rows": len(rows)}
    raise ExportConsistencyError(
        f"{table_at}: other writers kept committing first during {MAX_COMMITS} attempts; the table is unchanged "
        "by this export. Retry it, or run fewer merges into one table at once (max_active_runs)."
    )


def _arrow(rows: list[Row], schema: Any) -> Any:
    import pyarrow as pa

    return pa.Table.from_pylist(rows, schema=schema)


def _version(table: Any) -> int | None:
    """The table's version: the sequence number of its last commit (``None`` before the first)."""
    snapshot = table.current_snapshot()
    return snapshot.sequence_number if snapshot is not None else None


def table_version(table: ObjectStoragePath) -> dict[str, Any]:
    """The table's current version, for an export that merged nothing."""
    version = _version(open_table(table, None)) if is_iceberg(table) else None
    return {
        "table": _location(table),
        "table_version": version,
        "inserted": 0,
        "updated": 0,
        "unchanged": 0,
    }
