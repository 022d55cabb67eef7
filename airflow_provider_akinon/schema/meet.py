"""How two Arrow types of one field meet: the type both fit, the changes that took, or a conflict (no I/O).

A column first seen empty (``null``) takes the first type it meets, silently; integers meet floats as
floats and numbers meet decimals as decimals (``widened``); timestamps meet as UTC microseconds; structs
meet field by field (a field one lacks is ``added``), lists and maps by their items. Anything else (a
string meeting a number, a struct meeting a list) is a :class:`~airflow_provider_akinon.errors.SchemaConflict`, for the contract to settle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute

from airflow_provider_akinon.errors import SchemaConflict

INSTANT = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class Change:
    """One change of an export's schema: ``kind`` is ``added``, ``widened``, ``variant`` or ``discarded``."""

    path: str
    kind: str
    old: str | None
    new: str

    def as_dict(self) -> dict[str, Any]:
        """The change as the manifest lists it."""
        return {"field": self.path, "change": self.kind, "from": self.old, "to": self.new}


def meet(old: pa.DataType, new: pa.DataType, path: str, changes: list[Change]) -> pa.DataType:
    """The type holding values of ``old`` and of ``new`` at ``path``; what changed is appended to ``changes``."""
    if old == new or pa.types.is_null(new):
        return old
    if pa.types.is_null(old):
        return new
    if _number(old) and _number(new):
        wider = _wider_number(old, new)
        if wider != old:
            changes.append(Change(path, "widened", str(old), str(wider)))
        return wider
    if pa.types.is_timestamp(old) and pa.types.is_timestamp(new):
        return INSTANT
    if pa.types.is_struct(old) and pa.types.is_struct(new):
        return _meet_structs(old, new, path, changes)
    if _listlike(old) and _listlike(new) and pa.types.is_map(old) == pa.types.is_map(new):
        item = meet(_item(old), _item(new), f"{path}[]", changes)
        return pa.map_(pa.string(), item) if pa.types.is_map(old) else pa.list_(item)
    raise SchemaConflict(path, old, new)


def _meet_structs(old: pa.StructType, new: pa.StructType, path: str, changes: list[Change]) -> pa.DataType:
    fields = {field.name: field.type for field in old}
    for field in new:
        where = f"{path}.{field.name}" if path else field.name
        if field.name in fields:
            fields[field.name] = meet(fields[field.name], field.type, where, changes)
        else:
            fields[field.name] = field.type
            changes.append(Change(where, "added", None, str(field.type)))  # null too: the field is there
    return pa.struct([pa.field(name, kind) for name, kind in fields.items()])


def meet_schemas(old: pa.Schema, new: pa.Schema, changes: list[Change]) -> pa.Schema:
    """The schema holding tables of ``old`` and of ``new``, fields in the order first seen; raises
    :class:`~airflow_provider_akinon.errors.SchemaConflict` for the first field whose types do not meet."""
    return pa.schema(list(_meet_structs(pa.struct(list(old)), pa.struct(list(new)), "", changes)))


def canonical(schema: pa.Schema, first: Sequence[str] = ()) -> pa.Schema:
    """``schema`` in one order whatever the order fields were met in: the ``first`` names as given, then
    every field by name, struct fields by name at every depth (a rerun cut into other pages reads the same)."""
    rank = {name: n for n, name in enumerate(first)}
    ordered = sorted(schema, key=lambda f: (rank.get(f.name, len(rank)), f.name))
    return pa.schema([field.with_type(_sorted(field.type)) for field in ordered])


def _sorted(kind: pa.DataType) -> pa.DataType:
    if pa.types.is_struct(kind):
        return pa.struct(sorted((f.with_type(_sorted(f.type)) for f in kind), key=lambda f: f.name))
    if pa.types.is_map(kind):
        return pa.map_(kind.key_type, _sorted(kind.item_type))
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return pa.list_(_sorted(kind.value_type))
    return kind


def _number(kind: pa.DataType) -> bool:
    return pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)


def _wider_number(old: pa.DataType, new: pa.DataType) -> pa.DataType:
    if pa.types.is_decimal(old) or pa.types.is_decimal(new):
        return old if pa.types.is_decimal(old) else new
    if pa.types.is_floating(old) or pa.types.is_floating(new):
        return pa.float64()
    return pa.int64()


def _listlike(kind: pa.DataType) -> bool:
    return pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_map(kind)


def _item(kind: pa.DataType) -> pa.DataType:
    return kind.item_type if pa.types.is_map(kind) else kind.value_type


def describe(schema: pa.Schema) -> list[dict[str, str]]:
    """``schema`` as the manifest keeps it: each field's name and Arrow type."""
    return [{"name": field.name, "type": str(field.type)} for field in schema]


def cast_to(array: pa.Array, kind: pa.DataType) -> pa.Array:
    """``array`` as ``kind``, a type it meets into, by name at every depth: a field it lacks is NULL.
    (Arrow's own cast of a list of structs gaining a field builds an invalid array.)"""
    if array.type == kind:
        return array
    if pa.types.is_null(array.type):
        return pa.nulls(len(array), kind)
    if pa.types.is_struct(kind):
        have = dict(zip((f.name for f in array.type), array.flatten(), strict=True))
        children = [
            cast_to(have[f.name], f.type) if f.name in have else pa.nulls(len(array), f.type) for f in kind
        ]
        return pa.StructArray.from_arrays(children, fields=list(kind), mask=array.is_null())
    if pa.types.is_list(kind) or pa.types.is_map(kind):
        first, last = array.offsets[0].as_py(), array.offsets[-1].as_py()
        offsets = pa.compute.subtract(array.offsets, first)
        if pa.types.is_map(kind):
            keys = array.keys.slice(first, last - first)
            items = cast_to(array.items.slice(first, last - first), kind.item_type)
            return pa.MapArray.from_arrays(offsets, keys, items, mask=array.is_null())
        values = cast_to(array.values.slice(first, last - first), kind.value_type)
        return pa.ListArray.from_arrays(offsets, values, mask=array.is_null())
    if pa.types.is_decimal(kind) and pa.types.is_integer(array.type):
        return array.cast(pa.decimal128(38, kind.scale)).cast(kind)
    return array.cast(kind)
