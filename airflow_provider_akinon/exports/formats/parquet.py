"""Parquet (``parquet``): every field typed (:mod:`.typed_parquet`), or the fixed schema a table format stages.

The ``parquet`` format writes typed, nested pages (:mod:`~airflow_provider_akinon.exports.formats.typed_parquet`).
A table format (Delta, Iceberg) stages its exports in the fixed schema of :func:`schema_for`, which its
merges read (documented in the README):

- the resource's primary key (``id`` or ``pk``) and integer fields as ``int64``;
- its money fields as ``decimal128(18, 4)`` (the API's decimal strings, exact);
- its timestamps as ``timestamp[us, tz=UTC]``;
- a few string scalars (status codes, currency, number) as ``string``;
- ``_record``: the complete record as the API returned it, as JSON text.

pyarrow is imported when a Parquet file is written or read, never before: it is an optional extra.
"""

from __future__ import annotations

import array
import itertools
import operator
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any, BinaryIO

import msgspec
import orjson

from airflow_provider_akinon.errors import ExportConsistencyError
from airflow_provider_akinon.exports.formats.base import Encoder, Format
from airflow_provider_akinon.hooks.paging.records import Records
from airflow_provider_akinon.resources import Resource
from airflow_provider_akinon.timestamps import parse_instant


def schema_for(resource: Resource) -> Any:
    """The Parquet schema (a ``pyarrow.Schema``) of ``resource``'s export."""
    import pyarrow as pa

    money, timestamp = pa.decimal128(DIGITS, PLACES), pa.timestamp("us", tz="UTC")
    fields = [pa.field(resource.primary_key, pa.int64(), nullable=False)]
    fields += [pa.field(name, pa.int64()) for name in resource.integer_fields]
    fields += [pa.field(name, money) for name in resource.decimal_fields]
    fields += [pa.field(name, timestamp) for name in resource.timestamp_fields]
    fields += [pa.field(name, pa.string()) for name in resource.string_fields]
    fields.append(pa.field("_record", pa.string(), nullable=False))
    return pa.schema(fields)


#: What a money column holds: ``decimal128(18, 4)``.
PLACES, DIGITS = 4, 18


def _decimal(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    number = Decimal(str(value))
    if not number.is_finite() or number != number.quantize(Decimal(1).scaleb(-PLACES)):
        raise InvalidOperation(value)  # more places than the column keeps: never rounded away silently
    if abs(number) >= Decimal(10) ** (DIGITS - PLACES):
        raise InvalidOperation(value)
    return number


def _one(name: str) -> Callable[[Any], tuple[Any]]:
    """The one typed field of a record as a 1-tuple (``attrgetter`` of one name gives the bare value)."""
    get = operator.attrgetter(name)
    return lambda head: (get(head),)


def _integer(value: Any) -> int | None:
    return None if value is None else int(value)


def _string(value: Any) -> str | None:
    return None if value is None else str(value)


class ParquetEncoder:
    """Write pages of records as row groups of one Parquet file; naive timestamps are in ``zone``."""

    def __init__(self, resource: Resource, sink: Any, zone: tzinfo = UTC) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.resource = resource
        self.schema = schema_for(resource)
        self.writer = pq.ParquetWriter(sink, self.schema, compression="zstd")
        self.written = 0

        def instant(value: Any) -> Any:
            return parse_instant(value, zone).astimezone(UTC) if value else None

        # the typed fields as JSON gives them (ints as ints, the rest as strings: decimal strings, ISO
        # timestamps with their offset), then cast by Arrow to the schema's types
        typed = list(self.schema)[:-1]
        self._typed = [(f, pa.int64() if pa.types.is_integer(f.type) else pa.string()) for f in typed]
        head = msgspec.defstruct("Typed", [(f.name, Any, None) for f in typed], forbid_unknown_fields=False)
        self._heads = msgspec.json.Decoder(list[head])  # type: ignore[valid-type]
        self._fields = (
            operator.attrgetter(*(f.name for f in typed)) if len(typed) > 1 else _one(typed[0].name)
        )
        self.columns: list[tuple[str, Callable[[Any], Any]]] = [
            (resource.primary_key, int),
            *((name, _integer) for name in resource.integer_fields),
            *((name, _decimal) for name in resource.decimal_fields),
            *((name, instant) for name in resource.timestamp_fields),
            *((name, _string) for name in resource.string_fields),
        ]

    def write(self, records: Records) -> None:
        """Write ``records`` as one row group of the file: the typed fields decoded in C and converted by
        Arrow, the records kept as the bytes the API sent; a page Arrow cannot take as it is (a number where
        a decimal string was expected, a naive timestamp) record by record, which names a value that does
        not fit."""
        raw = records.raw if records.raw is not None else [orjson.dumps(r) for r in records.parsed]
        table = self._by_arrow(raw)
        self.writer.write_table(table if table is not None else self._by_record(records))
        self.written += sum(map(len, raw))

    def _by_arrow(self, raw: Sequence[Any]) -> Any:
        """The page as a typed Arrow table (``None``: Arrow cannot take it as it is): the typed fields decoded
        by msgspec, cast by Arrow; ``_record`` the records' own bytes, not copied record by record."""
        import pyarrow as pa

        try:
            heads = self._heads.decode(b"[" + b",".join(raw) + b"]")
            transposed = zip(*map(self._fields, heads), strict=True)  # the page's columns, in C
            columns = [
                pa.array(values, type=read).cast(field.type)
                for (field, read), values in zip(self._typed, transposed, strict=True)
            ]
            if columns[0].null_count:  # the key
                return None
            body = pa.py_buffer(b"".join(raw))
            offsets = pa.py_buffer(array.array("q", [0, *itertools.accumulate(map(len, raw))]))
            texts = pa.LargeStringArray.from_buffers(len(raw), offsets, body).cast(pa.string())
            return pa.Table.from_arrays([*columns, texts], schema=self.schema)
        except (pa.ArrowException, msgspec.DecodeError, OverflowError, TypeError, ValueError):
            return None

    def _by_record(self, records: Records) -> Any:
        """The page as a typed Arrow table, converted record by record in Python."""
        import pyarrow as pa

        parsed = records.parsed
        arrays = {name: self._column(name, convert, parsed) for name, convert in self.columns}
        arrays["_record"] = records.texts()
        return pa.table(arrays, schema=self.schema)

    def _column(self, name: str, convert: Callable[[Any], Any], parsed: list[dict[str, Any]]) -> list[Any]:
        """One typed column of a page; a value that does not fit names the field, the record and itself."""
        values = []
        for record in parsed:
            value = record.get(name)
            try:
                values.append(convert(value))
            except (ArithmeticError, TypeError, ValueError):
                key = self.resource.primary_key
                raise ExportConsistencyError(
                    f"{self.resource.name} {key}={record.get(key)!r}: {name}={value!r} does not fit the "
                    f"Parquet column {name} ({self.schema.field(name).type}); nothing was published. Export "
                    "as jsonl to keep records as the API wrote them."
                ) from None
        return values

    def close(self) -> None:
        """Close the Parquet writer (it writes the file's footer)."""
        self.writer.close()


class Parquet(Format):
    """Parquet files, a row group a page: every field typed and nested (:mod:`.typed_parquet`), or (a table
    format's staging) the schema of :func:`schema_for`."""

    name = "parquet"
    suffix = "parquet"
    needs: tuple[tuple[str, str], ...] = (("pyarrow", "parquet"),)
    #: typed, nested columns following the tenant's schema; a table format stages the fixed schema
    typed = True

    def encoder(self, out: BinaryIO, resource: Resource, zone: tzinfo, *, shaped: bool = False) -> Encoder:
        """A part file's encoder writing to ``out``: shaped pages (typed), or :class:`ParquetEncoder`."""
        if shaped:
            from airflow_provider_akinon.exports.formats.typed_parquet import TypedParquetEncoder

            return TypedParquetEncoder(out)
        return ParquetEncoder(resource, out, zone)

    def shaper(self, resource: Resource, zone: tzinfo, contract: Any, baseline: Any = None) -> Any:
        """The export's typed pages (:class:`~.typed_parquet.TypedPages`), unless this format is not ``typed``."""
        if not self.typed:
            return None
        from airflow_provider_akinon.exports.formats.typed_parquet import TypedPages
        from airflow_provider_akinon.schema.evolving import Evolving

        return TypedPages(Evolving(resource, zone, contract, baseline))

    def read(self, handle: BinaryIO, column: str | None) -> Iterator[Any]:
        """The records of one part file, from ``_record`` (a typed ``column`` from its own column)."""
        import pyarrow.parquet as pq

        parquet = pq.ParquetFile(handle)
        if column is not None and column in parquet.schema_arrow.names:
            for batch in parquet.iter_batches(columns=[column]):
                yield from batch.column(0).to_pylist()
            return
        for batch in parquet.iter_batches(columns=["_record"]):
            for text in batch.column(0).to_pylist():
                record = orjson.loads(text)
                yield record if column is None else record[column]
