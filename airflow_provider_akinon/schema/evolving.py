"""One export's typed schema: grown page by page by every writer of the export, as its contract allows.

The schema starts as the list's declared fields (met with a baseline: an earlier export's schema, if
given); every page meets it (:mod:`~airflow_provider_akinon.schema.meet`), and what would change it
goes by the contract (:mod:`~airflow_provider_akinon.schema.contract`): every change is logged and listed.
The schema only grows, so a page shaped earlier still reads under a later schema; writers holding a file
of an older schema start a new one (they compare a page's schema with their file's).
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Sequence
from datetime import tzinfo
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from airflow_provider_akinon.errors import SchemaConflict, SchemaContractError
from airflow_provider_akinon.resources import Resource
from airflow_provider_akinon.schema.contract import Contract
from airflow_provider_akinon.schema.meet import INSTANT, Change, canonical, cast_to, meet_schemas
from airflow_provider_akinon.schema.page import (
    MAX_STRUCT_FIELDS,
    MONEY,
    as_maps,
    declare_at,
    read_pieces,
    steps,
)

log = logging.getLogger(__name__)

ERRORS = pa.field("_errors", pa.list_(pa.string()))
#: A page's row numbers, carried through the contract beside the columns (never in the schema).
ROW = "__row"
#: Keys of discarded records the manifest lists (their count is always exact).
LISTED = 1000


def declared_schema(resource: Resource) -> pa.Schema:
    """The fields ``resource`` declares, typed: its key and integers, money, timestamps, strings."""
    fields = [pa.field(resource.primary_key, pa.int64(), nullable=False)]
    fields += [pa.field(name, pa.int64()) for name in resource.integer_fields]
    fields += [pa.field(name, MONEY) for name in resource.decimal_fields]
    fields += [pa.field(name, INSTANT) for name in resource.timestamp_fields]
    fields += [pa.field(name, pa.string()) for name in resource.string_fields]
    return pa.schema(fields)


class Evolving:
    """
    The schema of one export, shared by its writers (thread-safe).

    :param resource: the list exported.
    :param zone: the zone of timestamps without an offset.
    :param contract: what new fields and changed types do.
    :param baseline: the schema this export's records are held to (the previous export's): a field it
        lacks is new, by the ``columns`` contract. ``None`` (a first export): every field is taken, and
        only changed types go by the contract, so what lands never depends on where pages were cut.
    """

    def __init__(
        self, resource: Resource, zone: tzinfo, contract: Contract, baseline: pa.Schema | None = None
    ) -> None:
        self.resource = resource
        self.zone = zone
        self.contract = contract
        self.declared = declared_schema(resource)
        held = self.declared if baseline is None else meet_schemas(self.declared, baseline, [])
        self.schema = canonical(held, self.declared.names)
        self.changes: list[Change] = []
        self.discarded = 0
        self.discarded_keys: list[Any] = []
        self._maps: set[str] = set()
        self._ours = {ERRORS.name}  # columns the contract adds (errors, variants): never refused as new
        self._held = baseline is not None  # new fields go by the contract only against a baseline
        self._lock = threading.RLock()  # a contract settles a piece while the schema is held

    def shape(self, raw: Sequence[bytes]) -> tuple[pa.Table, pa.Array]:
        """The page ``raw`` (one JSON record each) as a table of the schema as it stands after it, and the
        position in ``raw`` of each of its rows (a contract may leave records out)."""
        admitted = []
        for start, piece in read_pieces(raw):
            rows = pa.array(range(start, start + len(piece)), pa.int64())
            admitted += self._admit(self._typed(piece).append_column(ROW, rows))
        with self._lock:
            schema = self.schema
        if not admitted:
            return schema.empty_table(), pa.array([], pa.int64())
        rows = pa.concat_arrays([table.column(ROW).combine_chunks() for table in admitted])
        return pa.concat_tables([conform(table, schema) for table in admitted]), rows

    def _typed(self, piece: pa.Table) -> pa.Table:
        columns = [
            as_maps(c.combine_chunks(), name, self._is_map)
            for name, c in zip(piece.column_names, piece.columns, strict=True)
        ]
        return pa.Table.from_arrays(columns, names=piece.column_names)

    def _is_map(self, path: str, kind: pa.StructType) -> bool:
        name = path.rsplit(".", 1)[-1].removesuffix("[]")
        if path in self._maps or name in self.resource.map_fields or kind.num_fields > MAX_STRUCT_FIELDS:
            self._maps.add(path)
            return True
        return False

    def _admit(self, piece: pa.Table) -> list[pa.Table]:
        """``piece`` with its declared fields typed (nested ones too), the schema grown to hold it: by the
        contract; the records whose declared field does not fit are found and settled by it."""
        declared = [(f.name, f.type) for f in self.declared] + [
            (p, MONEY) for p in self.resource.nested_decimal_fields
        ]
        for path, kind in declared:
            top = top_of(path)
            if top not in piece.column_names:
                continue
            try:
                column = declare_at(piece.column(top).combine_chunks(), steps(path)[1:], kind, self.zone)
            except ValueError as error:
                if len(piece) > 1:  # find the records that do not fit
                    half = len(piece) // 2
                    return self._admit(piece.slice(0, half)) + self._admit(piece.slice(half))
                return self._settle(piece, path, kind, piece.schema.field(top).type, str(error))
            piece = piece.set_column(piece.column_names.index(top), top, column)
        return self._grow(piece)

    def _grow(self, piece: pa.Table) -> list[pa.Table]:
        with self._lock:
            changes: list[Change] = []
            try:
                columns = pa.schema([field for field in piece.schema if field.name != ROW])
                grown = meet_schemas(self.schema, columns, changes)
            except SchemaConflict as error:
                clash = error
            else:
                if not self._held:  # no baseline: fields are taken as they come, not listed as added
                    changes = [c for c in changes if c.kind != "added" or c.path in self._ours]
                added = [c for c in changes if c.kind == "added" and c.path not in self._ours]
                if not added or self.contract.columns == "evolve":
                    self._take(grown, changes)
                    return [piece]
                return self._new_fields(piece, added)
        return self._settle(piece, clash.path, clash.old, clash.new, None)

    def _take(self, schema: pa.Schema, changes: list[Change]) -> None:
        schema = canonical(schema, self.declared.names)
        self.schema = schema
        for change in changes:
            log.info(
                "%s: schema change: %s %s (%s -> %s)",
                self.resource.name,
                change.path,
                change.kind,
                change.old,
                change.new,
            )
        self.changes += changes

    def _settle(self, piece: pa.Table, path: str, old: Any, new: Any, why: str | None) -> list[pa.Table]:
        """A field of ``piece`` whose values do not fit its type, by the ``data_type`` contract."""
        top = top_of(path)
        mode = self.contract.data_type
        if mode == "freeze":
            raise SchemaContractError(
                f"{self.resource.name} {self._key(piece)}: field {path!r} changed type from {old} to {new}"
                f"{f' ({why})' if why else ''}; schema_contract freezes data types, so nothing was published. "
                "Let it evolve (a variant column), discard the value or the row, or fix the records at the source."
            )
        column = piece.column(top)
        if mode == "discard_row":  # the records holding such a value; the others lack the field
            holding = pc.is_valid(column)
            return self._discard(piece.filter(holding)) + self._grow(
                piece.drop_columns([top]).filter(pc.invert(holding))
            )
        piece = piece.drop_columns([top])
        if mode == "discard_value":
            reason = f"{top}: {type_name(column.type)} value dropped ({path} is {old})"
            return self._grow(with_errors(piece, pc.is_valid(column), reason))
        variant = f"{top}__{type_name(column.type)}"
        with self._lock:
            first = variant not in self._ours  # listed and logged once, when first met
            self._ours.add(variant)
            if first:
                self.changes.append(Change(path, "variant", str(old), f"{variant}: {column.type}"))
        if first:
            log.info(
                "%s: %s holds a %s where %s was %s: kept in %s",
                self.resource.name,
                self._key(piece),
                new,
                path,
                old,
                variant,
            )
        return self._grow(piece.append_column(variant, column))

    def _new_fields(self, piece: pa.Table, added: list[Change]) -> list[pa.Table]:
        """``piece``'s fields the schema lacks, by the ``columns`` contract (not ``evolve``)."""
        mode = self.contract.columns
        first = added[0]
        if mode == "freeze":
            raise SchemaContractError(
                f"{self.resource.name} {self._key(piece)}: a new field {first.path!r} ({first.new}); "
                "schema_contract freezes columns, so nothing was published. Let columns evolve, or discard them."
            )
        masks = {path: carrying(piece, path) for path in sorted({c.path for c in added})}
        carries = functools.reduce(pc.or_, masks.values())
        tops = {top_of(path) for path in masks}
        kept = piece.drop_columns([t for t in tops if t not in self.schema.names])
        for name in tops & set(self.schema.names):  # a new field inside a known column: the column as it was
            index = kept.column_names.index(name)
            kept = kept.set_column(
                index, name, cast_to(kept.column(name).combine_chunks(), self.schema.field(name).type)
            )
        if mode == "discard_row":
            return self._discard(piece.filter(carries)) + self._grow(kept.filter(pc.invert(carries)))
        for path, mask in masks.items():
            kept = with_errors(kept, mask, f"{path}: a new field, dropped")
        return self._grow(kept)

    def _discard(self, piece: pa.Table) -> list[pa.Table]:
        key = self.resource.primary_key
        with self._lock:
            self.discarded += len(piece)
            room = LISTED - len(self.discarded_keys)
            self.discarded_keys += piece.column(key).to_pylist()[:room] if room > 0 else []
        return []

    def _key(self, piece: pa.Table) -> str:
        key = self.resource.primary_key
        value = piece.column(key)[0].as_py() if key in piece.column_names and len(piece) else None
        return f"{key}={value!r}"

    def describe(self) -> dict[str, Any]:
        """What the manifest says of the schema: its fields, every change, the contract, what was discarded."""
        from airflow_provider_akinon.schema.meet import describe

        with self._lock:
            return {
                "schema": describe(self.schema),
                "schema_changes": [change.as_dict() for change in self.changes],
                "schema_contract": self.contract.as_dict(),
                **(
                    {"discarded_rows": self.discarded, "discarded_keys": self.discarded_keys}
                    if self.discarded
                    else {}
                ),
            }


def top_of(path: str) -> str:
    """The top-level column of a field's ``path`` (``product`` of ``product.attributes``)."""
    return path.split(".")[0].split("[")[0]


def carrying(piece: pa.Table, path: str) -> Any:
    """Which rows of ``piece`` hold a value at ``path`` (through a list: which hold the column)."""
    top, _, rest = path.partition(".")
    value = piece.column(top_of(top)).combine_chunks()
    if rest and "[" not in path:
        for name in rest.split("."):
            value = pc.struct_field(value, name)
    return pc.is_valid(value)


def with_errors(piece: pa.Table, rows: Any, reason: str) -> pa.Table:
    """``piece`` with ``reason`` added to ``_errors`` of the ``rows`` (a boolean mask)."""
    note = pa.array([[reason] if flag else None for flag in rows.to_pylist()], ERRORS.type)
    if ERRORS.name not in piece.column_names:
        return piece.append_column(ERRORS, note)
    old = piece.column(ERRORS.name).to_pylist()
    merged = [(a or []) + (b or []) or None for a, b in zip(old, note.to_pylist(), strict=True)]
    return piece.set_column(piece.column_names.index(ERRORS.name), ERRORS, pa.array(merged, ERRORS.type))


def type_name(kind: pa.DataType) -> str:
    """A column name's word for ``kind``: ``string``, ``int64``, ``double``, ``struct``, ``list``, ``map``."""
    for word in ("struct", "map", "list"):
        if getattr(pa.types, f"is_{word}")(kind):
            return word
    return str(kind).split("[")[0].split("(")[0]


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with ``schema``'s fields, by name: a field it lacks is NULL, a narrower type cast wider."""
    columns = []
    for field in schema:
        if field.name not in table.column_names:
            columns.append(pa.nulls(len(table), field.type))
            continue
        columns.append(cast_to(table.column(field.name).combine_chunks(), field.type))
    return pa.Table.from_arrays(columns, schema=schema)
