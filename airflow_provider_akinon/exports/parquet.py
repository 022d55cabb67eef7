"""Parquet encoding of Akinon records: money as decimals, timestamps as timestamps, nothing lost.

Schema of every file (documented in the README):

- the resource's primary key (``id`` or ``pk``) and integer fields as ``int64``;
- its money fields as ``decimal128(18, 4)`` (the API's decimal strings, exact);
- its timestamps as ``timestamp[us, tz=UTC]``;
- a few string scalars (status codes, currency, number) as ``string``;
- ``_record``: the complete record as the API returned it, as JSON text.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from airflow_provider_akinon.errors import ExportConsistencyError
from airflow_provider_akinon.hooks.records import Records
from airflow_provider_akinon.resources import Resource
from airflow_provider_akinon.timestamps import parse_instant

MONEY = pa.decimal128(18, 4)
TIMESTAMP = pa.timestamp("us", tz="UTC")


def schema_for(resource: Resource) -> pa.Schema:
    """The Parquet schema of ``resource``'s export."""
    fields = [pa.field(resource.primary_key, pa.int64(), nullable=False)]
    fields += [pa.field(name, pa.int64()) for name in resource.integer_fields]
    fields += [pa.field(name, MONEY) for name in resource.decimal_fields]
    fields += [pa.field(name, TIMESTAMP) for name in resource.timestamp_fields]
    fields += [pa.field(name, pa.string()) for name in resource.string_fields]
    fields.append(pa.field("_record", pa.string(), nullable=False))
    return pa.schema(fields)


def _decimal(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    number = Decimal(str(value))
    if not number.is_finite():
        raise InvalidOperation(value)
    return number


def _string(value: Any) -> str | None:
    return None if value is None else str(value)


class ParquetEncoder:
    """Write pages of records as row groups of one Parquet file; naive timestamps are in ``zone``."""

    def __init__(self, resource: Resource, sink: Any, zone: tzinfo = UTC) -> None:
        self.resource = resource
        self.schema = schema_for(resource)
        self.writer = pq.ParquetWriter(sink, self.schema, compression="zstd")
        self.columns = [
            (resource.primary_key, int),
            *((name, lambda v: None if v is None else int(v)) for name in resource.integer_fields),
            *((name, _decimal) for name in resource.decimal_fields),
            *(
                (name, lambda v: parse_instant(v, zone).astimezone(UTC) if v else None)
                for name in resource.timestamp_fields
            ),
            *((name, _string) for name in resource.string_fields),
        ]

    def write(self, records: Records) -> int:
        parsed = records.parsed
        arrays = {name: self._column(name, convert, parsed) for name, convert in self.columns}
        raw = records.texts()
        arrays["_record"] = raw
        self.writer.write_table(pa.table(arrays, schema=self.schema))
        return sum(map(len, raw))

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
        self.writer.close()
