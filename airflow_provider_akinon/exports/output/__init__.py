"""
Deprecated: the format registry moved to :mod:`airflow_provider_akinon.exports.registry`.

``from airflow_provider_akinon.exports.output import FORMATS`` still works (the same registry) and warns;
formats, the commit protocol and tables now live in ``exports/formats/``, ``exports/commit/`` and
``exports/tables/``.
"""

from __future__ import annotations

import warnings

from airflow_provider_akinon.exports.registry import DEFAULT_FORMAT, FORMATS, format_named

warnings.warn(
    "airflow_provider_akinon.exports.output is deprecated: import FORMATS and format_named from "
    "airflow_provider_akinon.exports.registry",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = ["DEFAULT_FORMAT", "FORMATS", "format_named"]
