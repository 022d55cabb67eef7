"""A page of records as a typed Arrow table: Arrow's JSON reader, the list's declared types, maps for dicts of data.

The reader infers every field in C++ (nested dicts as structs, lists as lists). What it cannot know is
declared by the list's :class:`~airflow_provider_akinon.resources.Resource` (money as exact decimals,
timestamps as UTC instants, naive ones in the connection's zone) or decided here: a dict whose keys are
data (``attributes``, ``extra_field``: named by the resource's ``map_fields``, or holding more than
:data:`MAX_STRUCT_FIELDS` keys) becomes a ``map<string, ...>``, not a column per key; a string the reader
would take for a second-precision timestamp stays a string unless declared (its neighbours with
fractions stay strings too). A page whose field changes type between records is split until each piece
reads: the pieces meet by the export's contract.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Sequence
from datetime import tzinfo

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from airflow_provider_akinon.errors import SchemaConflict
from airflow_provider_akinon.schema.meet import INSTANT, cast_to, meet
from airflow_provider_akinon.timestamps import parse_instant

#: A dict with more keys than this is taken for a dict of data (a map), not a record of fields.
MAX_STRUCT_FIELDS = 64
#: Money: ``decimal128(18, 4)``, as the API's decimal strings, never rounded.
MONEY = pa.decimal128(18, 4)


def read_pieces(raw: Sequence[bytes], start: int = 0) -> Iterator[tuple[int, pa.Table]]:
    """``raw`` (one JSON object each) as Arrow tables in order, each with the position of its first record:
    one, unless a field changes type between records (the page is then halved until each half reads)."""
    body = b"\n".join(raw)
    try:
        yield start, _read(body)
    except pa.ArrowInvalid:
        if len(raw) == 1:
            raise
        half = len(raw) // 2
        yield from read_pieces(raw[:half], start)
        yield from read_pieces(raw[half:], start + half)


def _read(body: bytes) -> pa.Table:
    options = pj.ReadOptions(block_size=len(body) + 1, use_threads=False)
    table = pj.read_json(io.BytesIO(body), read_options=options)
    if not any(_has_timestamp(field.type) for field in table.schema):
        return table
    strings = pa.schema([field.with_type(_timestamps_as_strings(field.type)) for field in table.schema])
    parse = pj.ParseOptions(explicit_schema=strings, unexpected_field_behavior="error")
    return pj.read_json(io.BytesIO(body), read_options=options, parse_options=parse)


def _has_timestamp(kind: pa.DataType) -> bool:
    if pa.types.is_timestamp(kind):
        return True
    if pa.types.is_struct(kind):
        return any(_has_timestamp(field.type) for field in kind)
    return pa.types.is_list(kind) and _has_timestamp(kind.value_type)


def _timestamps_as_strings(kind: pa.DataType) -> pa.DataType:
    if pa.types.is_timestamp(kind):
        return pa.string()
    if pa.types.is_struct(kind):
        return pa.struct([field.with_type(_timestamps_as_strings(field.type)) for field in kind])
    if pa.types.is_list(kind):
        return pa.list_(_timestamps_as_strings(kind.value_type))
    return kind


def as_maps(array: pa.Array, path: str, is_map: Callable[[str, pa.DataType], bool]) -> pa.Array:
    """``array`` with every struct at a path ``is_map`` names turned into a ``map<string, ...>`` (the array
    itself where none is)."""
    kind = array.type
    if not _holds_map(kind, path, is_map):
        return array
    if pa.types.is_struct(kind):
        if is_map(path, kind):
            return struct_to_map(array, path)
        children = [
            as_maps(child, f"{path}.{field.name}" if path else field.name, is_map)
            for field, child in zip(kind, array.flatten(), strict=True)
        ]
        fields = [field.with_type(child.type) for field, child in zip(kind, children, strict=True)]
        return pa.StructArray.from_arrays(children, fields=fields, mask=array.is_null())
    first, last = array.offsets[0].as_py(), array.offsets[-1].as_py()  # a list: its own range of values
    values = as_maps(array.values.slice(first, last - first), f"{path}[]", is_map)
    return pa.ListArray.from_arrays(pc.subtract(array.offsets, first), values, mask=array.is_null())


def _holds_map(kind: pa.DataType, path: str, is_map: Callable[[str, pa.DataType], bool]) -> bool:
    if pa.types.is_struct(kind):
        return is_map(path, kind) or any(
            _holds_map(f.type, f"{path}.{f.name}" if path else f.name, is_map) for f in kind
        )
    return pa.types.is_list(kind) and _holds_map(kind.value_type, f"{path}[]", is_map)


def struct_to_map(array: pa.StructArray, path: str) -> pa.MapArray:
    """A struct of ``k`` fields as a map of its non-null fields, by row, in key order (values of one type:
    they meet, or scalars of mixed kinds land as strings)."""
    order = sorted(range(array.type.num_fields), key=lambda i: array.type.field(i).name)
    names = [array.type.field(i).name for i in order]  # a row's entries by key: the same whatever the page
    children = [array.field(i) for i in order]
    item = pa.null()
    try:
        for child in children:
            item = meet(item, child.type, f"{path}{{}}", [])
    except SchemaConflict:
        item = pa.string()
    children = [cast_to(child, item) for child in children]
    n, k = len(array), len(names)
    # each entry (row r, field f) numbered r * k + f: sorted, the map's entries by row, fields in order
    entry = pa.chunked_array(
        [
            pc.add(pc.multiply(pc.indices_nonzero(c.is_valid()), k), f).cast(pa.int64())
            for f, c in enumerate(children)
        ],
        pa.int64(),
    ).combine_chunks()
    entry = entry.take(pc.sort_indices(entry))
    rows, fields = pc.divide(entry, k), pc.subtract(entry, pc.multiply(pc.divide(entry, k), k))
    per_row = pa.array([0] * n, pa.int64())
    for child in children:
        per_row = pc.add(per_row, child.is_valid().cast(pa.int64()))
    offsets = pa.concat_arrays([pa.array([0], pa.int64()), pc.cumulative_sum(per_row)]).cast(pa.int32())
    flat = pa.concat_arrays(children) if children else pa.array([], item)
    items = flat.take(pc.add(pc.multiply(fields, n), rows))
    keys = pa.array(names, pa.string()).take(fields) if names else pa.array([], pa.string())
    return pa.MapArray.from_arrays(offsets, keys, items, mask=array.is_null())


def steps(path: str) -> list[str]:
    """``benefitapplicant_set[].discount_share`` as ``["benefitapplicant_set", "[]", "discount_share"]``."""
    return [
        step
        for part in path.split(".")
        for step in (part.removesuffix("[]"), "[]"[: 2 * part.endswith("[]")])
        if step
    ]


def declare_at(array: pa.Array, path: list[str], kind: pa.DataType, zone: tzinfo) -> pa.Array:
    """``array`` with the values at ``path`` (struct fields and ``[]`` list items, below ``array``) as the
    declared ``kind``; where the path is not there (no such field this page, not a list) as it was."""
    if not path:
        return to_declared(array, kind, zone)
    step, rest = path[0], path[1:]
    if step == "[]":
        if not pa.types.is_list(array.type):
            return array
        first, last = array.offsets[0].as_py(), array.offsets[-1].as_py()
        values = declare_at(array.values.slice(first, last - first), rest, kind, zone)
        return pa.ListArray.from_arrays(pc.subtract(array.offsets, first), values, mask=array.is_null())
    if not pa.types.is_struct(array.type) or array.type.get_field_index(step) < 0:
        return array
    children = [
        declare_at(child, rest, kind, zone) if field.name == step else child
        for field, child in zip(array.type, array.flatten(), strict=True)
    ]
    fields = [field.with_type(child.type) for field, child in zip(array.type, children, strict=True)]
    return pa.StructArray.from_arrays(children, fields=fields, mask=array.is_null())


def to_declared(column: pa.Array, kind: pa.DataType, zone: tzinfo) -> pa.Array:
    """``column`` as the declared ``kind``; raises ``ValueError`` naming the first value that does not fit."""
    if column.type == kind:
        return column
    if pa.types.is_null(column.type):
        return column.cast(kind)
    if pa.types.is_decimal(kind) and pa.types.is_integer(column.type):
        return column.cast(pa.decimal128(38, kind.scale)).cast(kind)
    if pa.types.is_timestamp(kind) and pa.types.is_string(column.type):
        return _instants(column, zone)
    try:
        return column.cast(kind)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise ValueError(_misfit(column, kind)) from None


def _instants(column: pa.Array, zone: tzinfo) -> pa.Array:
    try:
        return column.cast(INSTANT)
    except pa.ArrowInvalid:  # naive timestamps (in the connection's zone), or text that is none
        pass
    values = []
    for value in column.to_pylist():
        try:
            values.append(None if not value else parse_instant(value, zone))
        except ValueError:
            raise ValueError(f"{value!r} is no timestamp") from None
    return pa.array(values, INSTANT)


def _misfit(column: pa.Array, kind: pa.DataType) -> str:
    for value in column.to_pylist():
        try:
            pa.array([value], column.type).cast(kind)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return f"{value!r} does not fit {kind}"
    return f"its {column.type} values do not fit {kind}"
