"""An offline Akinon for tests and demos: synthetic data and a fault-injecting HTTP server on loopback."""

from __future__ import annotations

from airflow_provider_akinon.testing.data import AkinonData
from airflow_provider_akinon.testing.server import FakeAkinonServer, Faults

__all__ = ["AkinonData", "FakeAkinonServer", "Faults"]
