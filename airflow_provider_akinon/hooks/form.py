"""The ``akinon`` connection form: its extra fields, labels and placeholders, for every Airflow version."""

from __future__ import annotations

from typing import Any

# One declaration feeds the Airflow 3.2+ declarative form (``conn-fields`` in provider info) and the
# widgets older Airflow versions ask the hook for.
CONN_FIELDS: dict[str, dict] = {
    "api_prefix": {
        "label": "API prefix",
        "description": "Path prefix of the REST API on the host, e.g. api/v1/ or api/i1/.",
        "schema": {"type": ["string", "null"], "default": "api/v1/"},
    },
    "page_size": {
        "label": "Page size",
        "description": "Records per page asked for (the API's limit parameter; the API may cap it).",
        "schema": {"type": ["integer", "null"], "minimum": 1, "default": 100},
    },
    "timeout": {
        "label": "Read timeout (seconds)",
        "description": "Seconds to wait for an answer to one HTTP request.",
        "schema": {"type": ["number", "null"], "minimum": 1, "default": 60},
    },
    "connect_timeout": {
        "label": "Connect timeout (seconds)",
        "description": "Seconds to wait for a TCP/TLS connection to the host.",
        "schema": {"type": ["number", "null"], "minimum": 1, "default": 10},
    },
    "max_retries": {
        "label": "Max retries",
        "description": "Retries of one request on 429, 5xx, connection errors and timeouts.",
        "schema": {"type": ["integer", "null"], "minimum": 0, "default": 6},
    },
    "timezone": {
        "label": "Time zone of naive timestamps",
        "description": "IANA zone the API's timestamps are in when they carry no offset, e.g. Europe/Istanbul.",
        "schema": {"type": ["string", "null"], "default": "UTC"},
    },
    "verify": {
        "label": "Verify TLS",
        "description": "Verify the server's TLS certificate (REQUESTS_CA_BUNDLE names a CA bundle).",
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


def connection_form_widgets() -> dict[str, Any]:
    """WTForms widgets of the extra fields, for Airflow versions before the declarative ``conn-fields``."""
    from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
    from flask_babel import lazy_gettext
    from wtforms import BooleanField, IntegerField, StringField

    kinds = {"integer": IntegerField, "boolean": BooleanField}
    widgets = {}
    for name, spec in CONN_FIELDS.items():
        field_cls = kinds.get(spec["schema"]["type"][0], StringField)
        kwargs = {"description": spec["description"], "default": spec["schema"].get("default")}
        if field_cls is not BooleanField:
            kwargs["widget"] = BS3TextFieldWidget()
        widgets[name] = field_cls(lazy_gettext(spec["label"]), **kwargs)
    return widgets


def ui_field_behaviour() -> dict[str, Any]:
    """Hidden fields, labels and placeholders, in the shape older Airflow versions ask the hook for."""
    return {
        "hidden_fields": UI_FIELD_BEHAVIOUR["hidden-fields"],
        "relabeling": UI_FIELD_BEHAVIOUR["relabeling"],
        "placeholders": UI_FIELD_BEHAVIOUR["placeholders"],
    }
