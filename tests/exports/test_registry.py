"""The format registry: every format by name, at its address and (deprecated) at its old one."""

from __future__ import annotations

import importlib
import sys

import pytest

from airflow_provider_akinon.exports.registry import FORMATS, format_named
from airflow_provider_akinon.exports.tables.merging import TABLE_FORMATS


def test_every_file_and_table_format_is_registered_by_its_own_name():
    assert set(TABLE_FORMATS) < set(FORMATS)
    assert all(format_named(name).name == name for name in FORMATS)


def test_the_old_address_of_the_registry_still_works_and_says_where_it_moved(monkeypatch):
    monkeypatch.delitem(sys.modules, "airflow_provider_akinon.exports.output", raising=False)
    with pytest.warns(DeprecationWarning, match="exports.registry"):
        old = importlib.import_module("airflow_provider_akinon.exports.output")
    assert old.FORMATS is FORMATS  # the same registry: a plug-in registering there registers here
