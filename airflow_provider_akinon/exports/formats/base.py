"""What an output format is: the one place that knows how records become files and files an export.

A :class:`Format` owns everything format-specific: what it needs installed (:meth:`Format.check`, before
any request), how one part file is encoded (:meth:`Format.encoder`), how a published part is read back
(:meth:`Format.read`), and for a table format how staged parts are merged (:meth:`Format.merge`). Where
the parts land (published with a manifest, or merged) is the export's to decide, by ``table``: a format
knows nothing of the commit protocol. :mod:`~airflow_provider_akinon.exports.registry` registers them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, tzinfo
from typing import Any, BinaryIO, Protocol

from airflow_provider_akinon.errors import AkinonConfigError
from airflow_provider_akinon.resources import Resource


class Encoder(Protocol):
    """Writes pages of records into one part file; ``written`` counts the bytes before compression."""

    written: int

    def write(self, records: Any) -> None:
        """Encode one page of ``records`` (a typed format's: a shaped table) into the part file."""
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

    def check(self) -> None:
        """Refuse, before any request, a format whose packages are missing (naming the extra to install)."""
        for module, extra in self.needs:
            try:
                __import__(module)
            except ImportError:
                raise AkinonConfigError(
                    f"file_format={self.name!r} needs {module}: pip install 'airflow-provider-akinon[{extra}]'."
                ) from None

    def encoder(self, out: BinaryIO, resource: Resource, zone: tzinfo, *, shaped: bool = False) -> Encoder:
        """The :class:`Encoder` of one part file written to ``out``; naive timestamps are in ``zone``;
        ``shaped``: it is given pages the export's shaper typed."""
        raise NotImplementedError

    def shaper(self, resource: Resource, zone: tzinfo, contract: Any, baseline: Any = None) -> Any:
        """The typed pages of one export (shared by its writers), held to ``baseline`` (an earlier export's
        schema), or ``None``: records encoded as they come."""
        return None

    def read(self, handle: BinaryIO, column: str | None) -> Iterator[Any]:
        """The records of one published part file (or one top-level ``column`` of each)."""
        raise NotImplementedError

    def merge(
        self, resource: Resource, table: Any, parts: list[Any], exported_at: datetime
    ) -> dict[str, Any]:
        """A table format: merge the staged ``parts`` into ``table`` in one commit (its version, row counts)."""
        raise NotImplementedError

    def version(self, table: Any) -> dict[str, Any]:
        """A table format: the table's version (``None`` before its first commit), when nothing was merged."""
        raise NotImplementedError

    def summarise(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """What a task returns of a finished export besides its URI, counts and manifest (small: it is XCom)."""
        return {"files": len(manifest["files"])}
