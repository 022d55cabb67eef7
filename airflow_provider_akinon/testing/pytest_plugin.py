"""Pytest fixtures for DAG authors: ``akinon_server`` starts a fake Akinon and sets ``akinon_default``."""

from __future__ import annotations

import pytest

from airflow_provider_akinon.testing.data import AkinonData
from airflow_provider_akinon.testing.server import FakeAkinonServer


@pytest.fixture
def akinon_server(monkeypatch):
    """
    A fake Akinon tenant on loopback (300 orders over 2026-01-01..03), wired as ``akinon_default``.

    Change ``akinon_server.faults`` to inject faults; ``akinon_server.data`` is the ground truth.
    """
    with FakeAkinonServer(AkinonData(orders=300)) as server:
        monkeypatch.setenv("AIRFLOW_CONN_AKINON_DEFAULT", server.connection_json())
        yield server
