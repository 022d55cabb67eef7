"""A folder's own Iceberg catalog: PyIceberg's SQL catalog on SQLite, its lookups and commits in SQLAlchemy Core.

PyIceberg's :class:`~pyiceberg.catalog.sql.SqlCatalog` asks its tables through SQLAlchemy's ORM. A process's
first ORM statement configures the mappers, and Airflow listens for that moment to import every one of its
models: about a second (0.9-1.7 s timed) added to the first Iceberg export of every task. This catalog
keeps PyIceberg's tables and rows (another PyIceberg reads the same ``iceberg.db``) and runs the statements
an export needs (load, create, commit, namespaces) as Core statements on the same tables, which configure
no mapper. Commits keep the SQL catalog's rule: the row moves only from the metadata the commit was
decided on (an update guarded by the old location), else :class:`CommitFailedException`.
"""

from __future__ import annotations

from typing import Any

from pyiceberg.catalog import Catalog
from pyiceberg.catalog.sql import (
    ICEBERG_TABLE_TYPE,
    IcebergNamespaceProperties,
    IcebergTables,
    SqlCatalog,
)
from pyiceberg.exceptions import (
    CommitFailedException,
    NamespaceAlreadyExistsError,
    NoSuchNamespaceError,
    NoSuchTableError,
    TableAlreadyExistsError,
)
from pyiceberg.io import load_file_io
from pyiceberg.partitioning import UNPARTITIONED_PARTITION_SPEC
from pyiceberg.table import CommitTableResponse, TableProperties
from pyiceberg.table.locations import load_location_provider
from pyiceberg.table.metadata import new_table_metadata
from pyiceberg.table.sorting import UNSORTED_SORT_ORDER
from pyiceberg.typedef import EMPTY_DICT
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

TABLES = IcebergTables.__table__
NAMESPACES = IcebergNamespaceProperties.__table__


class FolderCatalog(SqlCatalog):
    """PyIceberg's SQL catalog whose table and namespace statements are SQLAlchemy Core (see the module)."""

    def _where(self, namespace: str, table_name: str) -> list[Any]:
        clauses = [
            TABLES.c.catalog_name == self.name,
            TABLES.c.table_namespace == namespace,
            TABLES.c.table_name == table_name,
        ]
        if self._schema_version == "v1":  # the column exists: views written by other engines are not tables
            kind = TABLES.c.iceberg_type
            clauses.append((kind == ICEBERG_TABLE_TYPE) | kind.is_(None))
        return clauses

    def load_table(self, identifier: Any) -> Any:
        """The table ``identifier`` (:class:`NoSuchTableError` if the catalog has none of that name)."""
        namespace = Catalog.namespace_to_string(Catalog.namespace_from(identifier))
        table_name = Catalog.table_name_from(identifier)
        with self.engine.connect() as conn:
            row = conn.execute(select(TABLES).where(*self._where(namespace, table_name))).first()
        if row is None:
            raise NoSuchTableError(f"Table does not exist: {namespace}.{table_name}")
        return self._convert_orm_to_iceberg(row)  # reads the row's columns by name, as of an ORM object

    def namespace_exists(self, identifier: Any) -> bool:
        """Whether a table or a namespace property lives in ``identifier`` or below it."""
        namespace = Catalog.namespace_to_string(Catalog.identifier_to_tuple(identifier), NoSuchNamespaceError)
        below = namespace.replace("!", "!!").replace("_", "!_").replace("%", "!%") + ".%"
        with self.engine.connect() as conn:
            for table, column in ((TABLES, TABLES.c.table_namespace), (NAMESPACES, NAMESPACES.c.namespace)):
                named = (column == namespace) | column.like(below, escape="!")
                if conn.execute(
                    select(column).where(table.c.catalog_name == self.name, named).limit(1)
                ).first():
                    return True
        return False

    def create_namespace(self, namespace: Any, properties: Any = EMPTY_DICT) -> None:
        """Create ``namespace`` (:class:`NamespaceAlreadyExistsError` if it exists)."""
        if self.namespace_exists(namespace):
            raise NamespaceAlreadyExistsError(f"Namespace {namespace} already exists")
        name = Catalog.namespace_to_string(namespace, NoSuchNamespaceError)
        values = properties or IcebergNamespaceProperties.NAMESPACE_MINIMAL_PROPERTIES
        with self.engine.begin() as conn:
            for key, value in values.items():
                conn.execute(
                    insert(NAMESPACES).values(
                        catalog_name=self.name, namespace=name, property_key=key, property_value=value
                    )
                )

    def create_table(
        self,
        identifier: Any,
        schema: Any,
        location: str | None = None,
        partition_spec: Any = UNPARTITIONED_PARTITION_SPEC,
        sort_order: Any = UNSORTED_SORT_ORDER,
        properties: Any = EMPTY_DICT,
    ) -> Any:
        """Write the new table's first metadata and name it (:class:`TableAlreadyExistsError` if taken)."""
        version = int(properties.get(TableProperties.FORMAT_VERSION, TableProperties.DEFAULT_FORMAT_VERSION))
        schema = self._convert_schema_if_needed(schema, version)
        namespace_tuple = Catalog.namespace_from(identifier)
        if not self.namespace_exists(namespace_tuple):
            raise NoSuchNamespaceError(f"Namespace does not exist: {namespace_tuple}")
        namespace = Catalog.namespace_to_string(namespace_tuple)
        table_name = Catalog.table_name_from(identifier)
        location = self._resolve_table_location(location, namespace, table_name)
        provider = load_location_provider(table_location=location, table_properties=properties)
        metadata_location = provider.new_table_metadata_file_location()
        metadata = new_table_metadata(
            location=location,
            schema=schema,
            partition_spec=partition_spec,
            sort_order=sort_order,
            properties=properties,
        )
        self._write_metadata(metadata, load_file_io(self.properties, metadata_location), metadata_location)
        self._insert(namespace, table_name, metadata_location)
        return self.load_table(identifier)

    def _insert(self, namespace: str, table_name: str, metadata_location: str) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(TABLES).values(**self._create_table_row(namespace, table_name, metadata_location))
                )
        except IntegrityError as error:
            raise TableAlreadyExistsError(f"Table {namespace}.{table_name} already exists") from error

    def commit_table(self, table: Any, requirements: Any, updates: Any) -> CommitTableResponse:
        """Write the updated metadata and move the row to it, only from the metadata it was decided on."""
        identifier = table.name()
        namespace = Catalog.namespace_to_string(Catalog.namespace_from(identifier))
        table_name = Catalog.table_name_from(identifier)
        try:
            current = self.load_table(identifier)
        except NoSuchTableError:
            current = None
        staged = self._update_and_stage_table(current, identifier, requirements, updates)
        if current is not None and staged.metadata == current.metadata:
            return CommitTableResponse(metadata=current.metadata, metadata_location=current.metadata_location)
        self._write_metadata(metadata=staged.metadata, io=staged.io, metadata_path=staged.metadata_location)
        if current is None:
            self._insert(namespace, table_name, staged.metadata_location)
        else:
            moved = (
                update(TABLES)
                .where(*self._where(namespace, table_name))
                .where(TABLES.c.metadata_location == current.metadata_location)
                .values(
                    metadata_location=staged.metadata_location,
                    previous_metadata_location=current.metadata_location,
                )
            )
            with self.engine.begin() as conn:
                if conn.execute(moved).rowcount < 1:
                    raise CommitFailedException(
                        f"Table has been updated by another process: {namespace}.{table_name}"
                    )
        return CommitTableResponse(metadata=staged.metadata, metadata_location=staged.metadata_location)
