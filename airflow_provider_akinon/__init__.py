"""Apache Airflow provider for Akinon's Omnitron and OMS APIs."""

from __future__ import annotations

__version__ = "0.3.0"

from airflow_provider_akinon.hooks.form import CONN_FIELDS, UI_FIELD_BEHAVIOUR

__all__ = ["CONN_FIELDS", "UI_FIELD_BEHAVIOUR", "__version__", "get_provider_info"]


def get_provider_info() -> dict:
    """Describe the provider to Airflow's ProvidersManager (``apache_airflow_provider`` entry point)."""
    return {
        "package-name": "airflow-provider-akinon",
        "name": "Akinon",
        "description": "Akinon Omnitron and OMS: orders, order items and discount items into object storage.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Akinon",
                "external-doc-url": "https://docs.akinon.com/",
                "tags": ["service"],
            }
        ],
        "hooks": [{"integration-name": "Akinon", "python-modules": ["airflow_provider_akinon.hooks.akinon"]}],
        "operators": [
            {"integration-name": "Akinon", "python-modules": ["airflow_provider_akinon.operators.akinon"]}
        ],
        "sensors": [
            {"integration-name": "Akinon", "python-modules": ["airflow_provider_akinon.sensors.akinon"]}
        ],
        "triggers": [
            {"integration-name": "Akinon", "python-modules": ["airflow_provider_akinon.triggers.akinon"]}
        ],
        "asset-uris": [{"schemes": ["akinon"], "handler": "airflow_provider_akinon.assets.normalize_uri"}],
        "dataset-uris": [{"schemes": ["akinon"], "handler": "airflow_provider_akinon.assets.normalize_uri"}],
        "extra-links": [
            "airflow_provider_akinon.operators.links.AkinonExportLink",
            "airflow_provider_akinon.operators.links.AkinonManifestLink",
        ],
        "connection-types": [
            {
                "hook-class-name": "airflow_provider_akinon.hooks.akinon.AkinonHook",
                "hook-name": "Akinon",
                "connection-type": "akinon",
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
                "conn-fields": CONN_FIELDS,
            }
        ],
    }
