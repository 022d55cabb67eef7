"""Sensors: :class:`~airflow_provider_akinon.sensors.akinon.AkinonNewOrdersSensor`."""

from __future__ import annotations
