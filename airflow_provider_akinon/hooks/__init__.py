"""Hooks: :class:`~airflow_provider_akinon.hooks.akinon.AkinonHook` and the request core behind it."""

from __future__ import annotations
