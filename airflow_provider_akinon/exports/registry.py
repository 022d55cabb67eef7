"""Output formats, by name: a new format is one module (a :class:`~.formats.base.Format`) and one line here.

The file formats (``exports/formats/``) and the table formats (``exports/tables/``, by
:data:`~.tables.merging.TABLE_FORMATS`) in one registry: what an operator's ``file_format`` and an
export's manifest name.
"""

from __future__ import annotations

from airflow_provider_akinon.errors import AkinonConfigError
from airflow_provider_akinon.exports.formats.base import Format
from airflow_provider_akinon.exports.formats.jsonl import GzipJsonLines, JsonLines
from airflow_provider_akinon.exports.formats.parquet import Parquet
from airflow_provider_akinon.exports.tables.merging import TABLE_FORMATS

FORMATS: dict[str, Format] = {
    f.name: f for f in (JsonLines(), GzipJsonLines(), Parquet(), *TABLE_FORMATS.values())
}
#: The format of an export that names none.
DEFAULT_FORMAT = JsonLines.name


def format_named(name: str, *, module: str | None = None) -> Format:
    """
    The format called ``name`` (``jsonl``, ``jsonl.gz``, ``parquet``, ``delta``, ``iceberg``, or one a plug-in
    registers), checked: it declares that name and a suffix. ``module``: the module that registered it, as
    an export's manifest records it (named in the error where it is not imported).
    """
    try:
        found = FORMATS[name]
    except (KeyError, TypeError):
        hint = f" It is registered by {module}: import {module} before reading the export." if module else ""
        raise AkinonConfigError(
            f"file_format={name!r} is not supported; use one of {', '.join(FORMATS)}.{hint}"
        ) from None
    if found.name != name or not found.suffix:
        raise AkinonConfigError(
            f"the format registered as {name!r} ({type(found).__name__}) declares name={found.name!r} and "
            f"suffix={found.suffix!r}: set name = {name!r} and a suffix (such as {name.split('.')[0]!r}) on "
            "the class, so its exports say what they are and can be read."
        )
    return found
