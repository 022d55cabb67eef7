"""What an output format is: the one place that knows how records become files and files an export.

A :class:`Format` owns everything format-specific: what it needs installed and what its destination
must be (:meth:`Format.check`, before any request), how one part file is encoded (:meth:`Format.encoder`),
how a finished export lands (:meth:`Format.finish`: publish the parts with a manifest, or merge them into
a table), and how a published part is read back (:meth:`Format.read`). The export and the operators name
no format; :mod:`~airflow_provider_akinon.exports.registry` registers them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, tzinfo
from typing import Any, BinaryIO, Protocol

from airflow_provider_akinon.errors import AkinonConfigError
from airflow_provider_akinon.exports.commit.storage import MANIFEST
from airflow_provider_akinon.exports.commit.target import ExportTarget
from airflow_provider_akinon.exports.formats.parts import PartFile
from airflow_provider_akinon.hooks.paging.records import Records
from airflow_provider_akinon.resources import Resource


class Encoder(Protocol):
    """Writes pages of records into one part file; ``written`` counts the bytes before compression."""

    written: int

    def write(self, records: Records) -> None:
        """Encode one page of ``records`` into the part file."""
        ...

    def close(self) -> None:
        """Finish the encoding: write what ends it (a Parquet footer, a gzip trailer)."""
        ...


class Format:
    """
    A file format of exports. Subclasses set ``name`` and ``suffix`` and implement :meth:`encoder` and
    :meth:`read`; a table format (:class:`~.tables.TableFormat`) sets ``table`` and implements
    :meth:`merge` and :meth:`version`.

    :cvar needs: modules it imports, with the extra that installs them (checked before any request).
    """

    name: str = ""
    suffix: str = ""
    table: bool = False
    needs: tuple[tuple[str, str], ...] = ()

    def check(self, target: ExportTarget) -> None:
        """Refuse, before any request, a format whose packages are missing or a destination it cannot own."""
        for module, extra in self.needs:
            try:
                __import__(module)
            except ImportError:
                raise AkinonConfigError(
                    f"file_format={self.name!r} needs {module}: pip install 'airflow-provider-akinon[{extra}]'."
                ) from None
        target.check_owner(table=self.table)

    def encoder(self, out: BinaryIO, resource: Resource, zone: tzinfo) -> Encoder:
        """The :class:`Encoder` of one part file written to ``out``; naive timestamps are in ``zone``."""
        raise NotImplementedError

    def read(self, handle: BinaryIO, column: str | None) -> Iterator[Any]:
        """The records of one published part file (or one top-level ``column`` of each)."""
        raise NotImplementedError

    def finish(
        self,
        target: ExportTarget,
        resource: Resource,
        parts: list[PartFile],
        manifest: dict[str, Any],
        now: datetime,
    ) -> dict[str, Any]:
        """Land the staged ``parts``: publish them with ``manifest`` (a folder of part files), or merge them
        into the table at the destination in one commit (a table format; nothing staged merges nothing)."""
        if not self.table:
            return target.publish(parts, manifest)
        staged = [target.staging / part.name for part in parts if part.records]
        table = target.destination
        merged = self.merge(resource, table, staged, now) if staged else self.version(table)
        return {**manifest, **merged, "files": []}

    def merge(
        self, resource: Resource, table: Any, parts: list[Any], exported_at: datetime
    ) -> dict[str, Any]:
        """A table format: merge the staged ``parts`` into ``table`` in one commit (its version, row counts)."""
        raise NotImplementedError

    def version(self, table: Any) -> dict[str, Any]:
        """A table format: the table's version (``None`` before its first commit), when nothing was merged."""
        raise NotImplementedError

    def summarise(self, target: ExportTarget, manifest: dict[str, Any]) -> dict[str, Any]:
        """What a task returns of a finished export, besides its URI and counts (small: it is XCom)."""
        return {"manifest": f"{target.uri}{MANIFEST}", "files": len(manifest["files"])}
