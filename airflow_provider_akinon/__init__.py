"""Apache Airflow provider for Akinon's Omnitron and OMS APIs."""

from __future__ import annotations

__version__ = "0.1.0"

# Extras of the ``akinon`` connection: one declaration feeds the Airflow 3.2+ declarative form
# (``conn-fields``) and the widgets older Airflow versions ask the hook for.
CONN_FIELDS: dict[str, dict] = {
    "api_prefix": {
        "label": "API prefix",
        "description": "Path prefix of the REST API on the host, e.g. api/v1/ or api/i1/.",
        "schema": {"type": ["string", "null"], "default": "api/v1/"},
    },
    "page_size": {
        "label": "Page size",
        "description": "Records per page (the API's limit parameter).",
        "schema": {"type": ["integer", "null"], "minimum": 1, "default": 100},
    },
    "timeout": {
        "label": "Timeout (seconds)",
        "description": "Timeout of one HTTP request.",
        "schema": {"type": ["number", "null"], "minimum": 1, "default": 60},
    },
    "max_retries": {
        "label": "Max retries",
        "description": "Retries of one request on 429, 5xx, connection errors and timeouts.",
        "schema": {"type": ["integer", "null"], "minimum": 0, "default": 6},
    },
    "verify": {
        "label": "Verify TLS",
        "description": "Verify the server's TLS certificate.",
        "schema": {"type": ["boolean", "null"], "default": True},
    },
}

UI_FIELD_BEHAVIOUR: dict = {
    "hidden-fields": ["schema", "port"],
    "relabeling": {"host": "Tenant base URL", "login": "Username", "password": "Password or API token"},
    "placeholders": {
        "host": "https://acme.omnitron.akinon.net",
        "login": "API user (leave empty when the password is an API token)",
        "password": "password, or a ready API token when the username is empty",
    },
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
