"""The ``akinon`` connection form, for every Airflow version, built from the declared extras.

The form saves only what a person typed: no field carries a default (a field left untouched is saved as
``null``, which the provider reads as absent and so takes the default the code declares). Each field's
description says its default. One declaration (:data:`~airflow_provider_akinon.hooks.extras.EXTRAS`)
feeds the Airflow 3.2+ declarative form (``conn-fields`` in provider info) and the widgets older Airflow
versions ask the hook for.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_akinon.hooks.extras import EXTRAS

CONN_FIELDS: dict[str, dict[str, Any]] = {
    extra.name: {
        "label": extra.label,
        "description": extra.description,
        "schema": {
            "type": [extra.kind, "null"],
            **({"minimum": extra.minimum} if extra.minimum is not None else {}),
        },
    }
    for extra in EXTRAS
}

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
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
    from wtforms import BooleanField, StringField

    widgets: dict[str, Any] = {}
    for extra in EXTRAS:
        if extra.kind == "boolean":
            widgets[extra.name] = BooleanField(lazy_gettext(extra.label), description=extra.description)
        else:  # typed fields would save their default; a text field left empty saves nothing
            widgets[extra.name] = StringField(
                lazy_gettext(extra.label), description=extra.description, widget=BS3TextFieldWidget()
            )
    return widgets


def ui_field_behaviour() -> dict[str, Any]:
    """Hidden fields, labels and placeholders, in the shape older Airflow versions ask the hook for."""
    return {
        "hidden_fields": UI_FIELD_BEHAVIOUR["hidden-fields"],
        "relabeling": UI_FIELD_BEHAVIOUR["relabeling"],
        "placeholders": UI_FIELD_BEHAVIOUR["placeholders"],
    }
