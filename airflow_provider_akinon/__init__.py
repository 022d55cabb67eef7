"""Apache Airflow provider for Akinon's Omnitron and OMS APIs."""

from __future__ import annotations

from typing import Any

__version__ = "0.4.0"

from airflow_provider_akinon.hooks.form import CONN_FIELDS, UI_FIELD_BEHAVIOUR

__all__ = ["CONN_FIELDS", "UI_FIELD_BEHAVIOUR", "__version__", "get_provider_info"]


#: ``[akinon]`` in Airflow's configuration (``airflow config list`` shows them; read by
#: :mod:`airflow_provider_akinon.exports.commit.settings`)
CONFIG: dict[str, dict[str, Any]] = {
    "akinon": {
        "description": "How exports publish (airflow_provider_akinon.exports.commit.settings).",
        "options": {
            "publish_lease_timeout": {
                "description": "Seconds without a heartbeat after which a run publishing into a "
                "destination is judged stopped, and the next run takes its publish over.",
                "version_added": "0.4.0",
                "type": "float",
                "example": "60",
                "default": "60",
            },
            "superseded_retention": {
                "description": "Seconds the parts a newer export replaced stay in "
                "_akinon/superseded/, for readers still reading the export they belonged to.",
                "version_added": "0.4.0",
                "type": "float",
                "example": "3600",
                "default": "3600",
            },
            "publish_max_wait": {
                "description": "Seconds a run waits for another, live run's publish to end.",
                "version_added": "0.4.0",
                "type": "float",
                "example": "600",
                "default": "600",
            },
        },
    }
}


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
        "config": CONFIG,
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
