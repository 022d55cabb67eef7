"""An Iceberg commit of one snapshot: :func:`commit` (read, decide, write; decided again after a lost race).

PyIceberg's ``overwrite`` makes two snapshots (a delete, then an append): a reader of the one between sees
the replaced records missing. :class:`Rewrite` uses PyIceberg's own pieces, as its ``delete`` uses them
(``pyiceberg`` is pinned to the versions tested), to write one overwrite snapshot; :func:`replace` is a
merge's: the rows decided written batch by batch, the data files holding the rows they replace rewritten
without them.
"""

from __future__ import annotations

import functools
import itertools
import logging
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from airflow_provider_akinon.compat import ObjectStoragePath
from airflow_provider_akinon.errors import ExportConsistencyError
from airflow_provider_akinon.exports.tables.iceberg_table import (
    MAX_COMMITS,
    Keys,
    as_arrow,
    open_table,
    provider_properties,
    table_version_of,
)

log = logging.getLogger(__name__)


class Rewrite:
    """
    One snapshot of a transaction that deletes data files and adds others (PyIceberg's own pieces, as its
    ``delete`` uses them: ``pyiceberg`` is pinned to the versions tested): a merge's (:func:`replace`) and a
    compaction's. PyIceberg's ``overwrite`` makes two snapshots (a delete, then an append): a reader of the
    one between sees the replaced records missing.
    """

    def __init__(self, tx: Any) -> None:
        self.tx, self.meta, self.io = tx, tx.table_metadata, tx._table.io
        self.uuid, self.counter = uuid.uuid4(), itertools.count(0)
        self.deleted: list[Any] = []
        self.added: list[Any] = []

    def read(self, tasks: list[Any]) -> Any:
        """The rows of the data files of ``tasks`` (scan tasks), as one Arrow table."""
        from pyiceberg.expressions import AlwaysTrue
        from pyiceberg.io.pyarrow import ArrowScan

        return ArrowScan(self.meta, self.io, self.meta.schema(), AlwaysTrue()).to_table(tasks=tasks)

    def write(self, rows: Any) -> None:
        """Add ``rows`` (an Arrow table) as new data files."""
        from pyiceberg.io.pyarrow import _dataframe_to_data_files

        if len(rows):
            self.added += _dataframe_to_data_files(
                self.meta, rows, self.io, write_uuid=self.uuid, counter=self.counter
            )

    def commit(self) -> int:
        """Stage the snapshot in the transaction (committed with it); the data files it added. Its
        manifests are merged as the table's ``commit.manifest.*`` properties say (PyIceberg merges only
        appends'): an hourly feed's manifests would otherwise grow by one a commit, and every merge reads
        them all."""
        producer = self.tx.update_snapshot().overwrite(commit_uuid=self.uuid)
        producer.__class__ = _merging_overwrite()
        with producer as snapshot:
            for data_file in self.deleted:
                snapshot.delete_data_file(data_file)
            for data_file in self.added:
                snapshot.append_data_file(data_file)
        return len(self.added)


@functools.cache
def _merging_overwrite() -> type:
    """PyIceberg's overwrite, its data manifests merged as its merge-append merges them."""
    from pyiceberg.manifest import ManifestContent
    from pyiceberg.table import TableProperties
    from pyiceberg.table.update.snapshot import _ManifestMergeManager, _OverwriteFiles
    from pyiceberg.utils.properties import property_as_int

    class MergingOverwrite(_OverwriteFiles):
        def _process_manifests(self, manifests: list[Any]) -> list[Any]:
            properties = self._transaction.table_metadata.properties
            merger = _ManifestMergeManager(
                target_size_bytes=property_as_int(
                    properties,
                    TableProperties.MANIFEST_TARGET_SIZE_BYTES,
                    TableProperties.MANIFEST_TARGET_SIZE_BYTES_DEFAULT,
                ),
                min_count_to_merge=property_as_int(
                    properties,
                    TableProperties.MANIFEST_MIN_MERGE_COUNT,
                    TableProperties.MANIFEST_MIN_MERGE_COUNT_DEFAULT,
                ),
                merge_enabled=True,
                snapshot_producer=self,
            )
            data = [m for m in manifests if m.content == ManifestContent.DATA]
            return merger.merge_manifests(data) + [m for m in manifests if m.content != ManifestContent.DATA]

    return MergingOverwrite


@functools.cache
def _memo_transaction() -> type:
    """PyIceberg's transaction, its metadata built once per staged update: PyIceberg rebuilds and
    deep-copies the whole metadata (every snapshot) at each read of it, a dozen times a commit."""
    from pyiceberg.table import Transaction
    from pyiceberg.table.update import update_table_metadata

    class MemoTransaction(Transaction):
        @property
        def table_metadata(self) -> Any:
            base, updates = self._table.metadata, self._updates
            memo = self.__dict__.get("_memo")
            if memo is None or memo[0] is not base or memo[1] is not updates:
                memo = self.__dict__["_memo"] = (base, updates, update_table_metadata(base, updates))
            return memo[2]

    return MemoTransaction


def transaction(table: Any) -> Any:
    """A transaction of ``table`` (PyIceberg's, its metadata built once per update: frozen models, shared)."""
    return _memo_transaction()(table)


def replace(tx: Any, batches: Iterable[tuple[Any, Keys | None]]) -> int:
    """
    In one snapshot of ``tx``: the rows of ``batches`` written (each batch as it comes), and the data files
    holding the rows they replace rewritten without them; the rows written (none: no snapshot at all).
    """
    import pyarrow.compute as pc

    rewrite, schema = Rewrite(tx), tx.table_metadata.schema().as_arrow()
    column, written = None, 0
    gone_keys: list[Any] = []
    for rows, replaced in batches:
        if len(rows):
            arrow = as_arrow(rows, schema)  # decided as dicts, or already in Arrow
            rewrite.write(arrow)
            written += len(arrow)
        if replaced is not None:
            column = replaced.column
            gone_keys += replaced.values
    if not written:
        return 0
    if column is not None and gone_keys:
        gone = Keys(column, tuple(gone_keys))
        for task in tx._scan(row_filter=gone.files()).plan_files():  # the files that may hold them
            held = rewrite.read([task])
            matched = gone.mask(held)
            if pc.any(matched).as_py():
                rewrite.deleted.append(task.file)
                rewrite.write(held.filter(pc.invert(matched)))
    rewrite.commit()
    return written


def commit(
    table_at: ObjectStoragePath,
    schema: Any,
    decide: Callable[[Any], Iterable[tuple[Any, Keys | None]]],
    what: str,
) -> dict[str, Any]:
    """
    Read and decide on the current table, then replace the rows decided in one commit of one snapshot;
    decide again on the newer table when another writer committed first.

    :param decide: given the table, batches of the rows to write (dicts, or an Arrow table) and of the rows
        they replace (``None``: none): each batch written as it is decided, so memory follows a batch.
    """
    from pyiceberg.exceptions import CommitFailedException

    for attempt in range(1, MAX_COMMITS + 1):
        table = provider_properties(open_table(table_at, schema))
        try:
            with transaction(table) as tx:
                written = replace(tx, decide(table))
        except CommitFailedException as err:
            log.warning(
                "Another writer committed to %s first (%s); %s again (%d)", table_at, err, what, attempt
            )
            continue
        if written:
            table = open_table(table_at, None)
        return {"table": table.location(), "table_version": table_version_of(table), "rows": written}
    raise ExportConsistencyError(
        f"{table_at}: other writers kept committing first during {MAX_COMMITS} attempts; the table is unchanged "
        "by this export. Retry it, or run fewer merges into one table at once (max_active_runs)."
    )
