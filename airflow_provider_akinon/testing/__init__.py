"""An offline Akinon for tests and demos: synthetic data and a fault-injecting HTTP server on loopback."""

from __future__ import annotations

from airflow_provider_akinon.testing.data import AkinonData
from airflow_provider_akinon.testing.server import FakeAkinonServer
from airflow_provider_akinon.testing.variants import ApiVariant, Faults

__all__ = ["AkinonData", "ApiVariant", "FakeAkinonServer", "Faults"]
