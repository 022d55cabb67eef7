"""The current state of a list in an Apache Iceberg table (PyIceberg): merges and deletions, one commit each.

The table at a destination is ``akinon.<folder name>_<hash of the whole destination>`` in a catalog (one
table per destination: two tenants' ``.../orders`` folders are two tables): the catalog of the Airflow
connection ``iceberg_default`` where one exists (its extras are PyIceberg's catalog properties: ``type``
``rest`` or ``sql``, ``uri``, ``warehouse``, credentials), else a SQL catalog on SQLite kept in the folder
itself (``_akinon/iceberg.db``, :mod:`~airflow_provider_akinon.exports.tables.iceberg_catalog`; local folders
only), so a table needs no server. A catalog entry of that
name whose location is not the destination is refused, never written.

A merge reads the table's rows of the changed keys, decides each row by the rules of
:mod:`~airflow_provider_akinon.exports.tables.versions` (the Delta table's rules) and replaces those rows
in one commit of one snapshot (:func:`replace`: the files holding them rewritten, the new rows added). A commit is refused when another writer committed
since the rows were read (PyIceberg's own retries are off on these tables: they would replay the same
rows on a newer table); the merge then reads again, up to five times. A failed export commits nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airflow_provider_akinon.compat import ObjectStoragePath
from airflow_provider_akinon.errors import DestinationError
from airflow_provider_akinon.exports.tables.versions import Row

log = logging.getLogger(__name__)

MAX_COMMITS = 5
NAMESPACE = "akinon"
CATALOG_CONN_ID = "iceberg_default"
#: The properties of every table this provider merges into: no commit retries (PyIceberg replays a commit
#: that lost a race on the newer table; a merge must decide its rows again), and old metadata files
#: removed after each commit (each commit writes one: an hourly feed would keep 8,760 a year), and the
#: manifests merged (each commit adds one).
PROPERTIES = {
    "commit.retry.num-retries": "0",
    # an hourly feed adds a manifest a commit: merged once there are this many (iceberg_snapshot.Rewrite)
    "commit.manifest.min-count-to-merge": "16",
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "20",
}


def identifier_of(location: str) -> str:
    """The identifier of the table at ``location`` (a URI): its folder's name, and a hash of the whole URI."""
    name = re.sub(r"[^0-9a-z_]+", "_", Path(location.rstrip("/")).name.lower()).strip("_") or "table"
    return f"{NAMESPACE}.{name}_{hashlib.sha256(location.rstrip('/').encode()).hexdigest()[:12]}"


def catalog_for(table: ObjectStoragePath) -> tuple[Any, str, str]:
    """The catalog of the table at ``table``, its identifier, and its location."""
    props = _connection_properties()
    location = _location(table)
    identifier = identifier_of(location)
    if props:
        from pyiceberg.catalog import load_catalog

        return load_catalog("akinon", **props), identifier, location
    if table.protocol not in ("", "file", "local"):
        raise DestinationError(
            f"file_format='iceberg' at {table} needs a catalog: create the Airflow connection "
            f"{CATALOG_CONN_ID!r} with PyIceberg's catalog properties in its extras (type, uri, warehouse)."
        )
    from airflow_provider_akinon.exports.tables.iceberg_catalog import FolderCatalog

    folder = Path(table.path) / "_akinon"
    folder.mkdir(parents=True, exist_ok=True)
    catalog = FolderCatalog("akinon", uri=f"sqlite:///{folder / 'iceberg.db'}", warehouse=location)
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
        return _at(catalog.load_table(identifier), identifier, location)
    except NoSuchTableError:
        if schema is None:
            raise DestinationError(f"{table} holds no Iceberg table yet.") from None
    with contextlib.suppress(NamespaceAlreadyExistsError):
        catalog.create_namespace(NAMESPACE)
    try:
        return catalog.create_table(identifier, schema=schema, location=location, properties=PROPERTIES)
    except TableAlreadyExistsError:  # another writer created it first
        return _at(catalog.load_table(identifier), identifier, location)


def _at(found: Any, identifier: str, location: str) -> Any:
    """``found``, the catalog's table ``identifier``, if it lives at ``location``: else refused, never written."""
    if found.location().rstrip("/") != location.rstrip("/"):
        raise DestinationError(
            f"the catalog's table {identifier} lives at {found.location()}, not at {location}: it is another "
            "destination's table, and this export is not merged into it. Rename or drop that catalog entry, "
            "or export to its own location."
        )
    return found


def columns_at(table: ObjectStoragePath) -> list[str] | None:
    """The columns of the Iceberg table at ``table`` (``None``: none there yet); refused if the catalog's
    table of that name lives elsewhere. Asked before any request of an export."""
    from pyiceberg.exceptions import NoSuchTableError

    catalog, identifier, location = catalog_for(table)
    try:
        return list(_at(catalog.load_table(identifier), identifier, location).schema().as_arrow().names)
    except NoSuchTableError:
        return None


def is_iceberg(table: ObjectStoragePath) -> bool:
    """Whether ``table`` holds an Iceberg table of this provider (its metadata, or its folder's catalog)."""
    return (table / "metadata").exists() or (table / "_akinon" / "iceberg.db").exists()


@dataclass(frozen=True)
class Keys:
    """
    Rows by the values of one column (a merge's keys, a deletion's parents): the files that may hold them
    found by the range of the values (their statistics), the rows by Arrow's ``is_in``. PyIceberg's own
    ``In`` of 20,000 literals spent seconds binding them, at every file planned.
    """

    column: str
    values: tuple[Any, ...]

    def files(self) -> Any:
        """The PyIceberg filter that plans the files that may hold these rows: the values' range."""
        from pyiceberg.expressions import And, GreaterThanOrEqual, LessThanOrEqual

        return And(
            GreaterThanOrEqual(self.column, min(self.values)), LessThanOrEqual(self.column, max(self.values))
        )

    def mask(self, rows: Any) -> Any:
        """Which of ``rows`` (an Arrow table) these are."""
        import pyarrow as pa
        import pyarrow.compute as pc

        return pc.is_in(
            rows.column(self.column), value_set=pa.array(self.values, rows.schema.field(self.column).type)
        )


def rows_of(table: Any, keys: Keys, fields: list[str] | None = None) -> list[Row]:
    """The table's rows whose ``keys.column`` is one of ``keys.values`` (only their ``fields``, if given)."""
    if not keys.values:
        return []
    selected = ("*",) if fields is None else tuple(dict.fromkeys([keys.column, *fields]))
    scanned = table.scan(row_filter=keys.files(), selected_fields=selected).to_arrow()
    return scanned.filter(keys.mask(scanned)).to_pylist()


def provider_properties(table: Any) -> Any:
    """``table`` with :data:`PROPERTIES` set, in a commit of their own before any data commit (a table created
    elsewhere would replay this merge's first commit on a newer table otherwise)."""
    if all(table.properties.get(name) == value for name, value in PROPERTIES.items()):
        return table
    with table.transaction() as tx:
        tx.set_properties(PROPERTIES)
    return table  # the transaction updated it in place


def as_arrow(rows: Any, schema: Any) -> Any:
    """``rows`` (dicts, or an Arrow table) as an Arrow table of ``schema``."""
    import pyarrow as pa

    return rows.cast(schema) if isinstance(rows, pa.Table) else pa.Table.from_pylist(rows, schema=schema)


def table_version_of(table: Any) -> int | None:
    """The table's version: the sequence number of its last commit (``None`` before the first)."""
    snapshot = table.current_snapshot()
    return snapshot.sequence_number if snapshot is not None else None


def table_version(table: ObjectStoragePath) -> dict[str, Any]:
    """The table's current version, for an export that merged nothing."""
    version = table_version_of(open_table(table, None)) if is_iceberg(table) else None
    return {
        "table": _location(table),
        "table_version": version,
        "inserted": 0,
        "updated": 0,
        "unchanged": 0,
    }
