"""Output formats, by name: a new format is one module (a :class:`~.base.Format`) and one line here."""

from __future__ import annotations

from airflow_provider_akinon.errors import AkinonConfigError
from airflow_provider_akinon.exports.output.base import Format
from airflow_provider_akinon.exports.output.delta import Delta
from airflow_provider_akinon.exports.output.iceberg import Iceberg
from airflow_provider_akinon.exports.output.jsonl import GzipJsonLines, JsonLines
from airflow_provider_akinon.exports.output.parquet import Parquet

FORMATS: dict[str, Format] = {
    f.name: f for f in (JsonLines(), GzipJsonLines(), Parquet(), Delta(), Iceberg())
}
#: The format of an export that names none.
DEFAULT_FORMAT = JsonLines.name


def format_named(name: str) -> Format:
    """The format called ``name`` (``jsonl``, ``jsonl.gz``, ``parquet``, ``delta``, ``iceberg``)."""
    try:
        return FORMATS[name]
    except (KeyError, TypeError):
        raise AkinonConfigError(
            f"file_format={name!r} is not supported; use one of {', '.join(FORMATS)}."
        ) from None
