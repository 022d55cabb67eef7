"""The provider registers with Airflow: providers list, the akinon connection type and its form."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from airflow_provider_akinon import CONN_FIELDS, __version__, get_provider_info


def airflow(*args: str) -> str:
    """What the ``airflow`` command prints, run as a user would (no ``[akinon]`` setting of the tests')."""
    return subprocess.run(
        [sys.executable, "-m", "airflow", *args],
        capture_output=True,
        text=True,
        check=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__AKINON__")},
        timeout=180,
    ).stdout


def test_airflow_providers_list_shows_the_provider():
    out = airflow("providers", "list", "--output", "json")
    providers = {p["package_name"]: p for p in json.loads(out[out.index("[") :])}
    assert providers["airflow-provider-akinon"]["version"] == __version__


def test_akinon_connection_type_and_form_are_registered():
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    hook_info = manager.hooks["akinon"]
    assert hook_info.hook_class_name == "airflow_provider_akinon.hooks.akinon.AkinonHook"
    assert hook_info.connection_id_attribute_name == "akinon_conn_id"
    widgets = manager.connection_form_widgets
    for name in CONN_FIELDS:
        assert f"extra__akinon__{name}" in widgets
    behaviour = manager.field_behaviours["akinon"]
    assert behaviour["relabeling"]["host"] == "Tenant base URL"


def test_declarative_form_matches_the_widgets():
    info = get_provider_info()
    conn = info["connection-types"][0]
    assert conn["connection-type"] == "akinon"
    # every extra the provider reads, and none of them with a default the form would save
    from airflow_provider_akinon.hooks.extras import EXTRAS

    assert set(conn["conn-fields"]) == {extra.name for extra in EXTRAS}
    assert {"backoff", "max_wait", "retry_deadline", "login_endpoint"} <= set(conn["conn-fields"])
    assert all("default" not in field["schema"] for field in conn["conn-fields"].values())
    assert conn["ui-field-behaviour"]["hidden-fields"] == ["schema", "port"]


def test_the_publish_settings_are_in_airflows_configuration():
    """``[akinon]`` options declared in the provider info: ``airflow config`` knows them and their defaults."""
    out = airflow("config", "get-value", "akinon", "publish_lease_timeout")
    assert out.strip().splitlines()[-1] == "60"
