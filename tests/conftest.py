"""Test set-up: an isolated AIRFLOW_HOME per run, and the fake Akinon server over real HTTP."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# Airflow reads its configuration at import time: isolate it before anything imports airflow.
_HOME = Path(tempfile.mkdtemp(prefix="akinon-airflow-home-"))
os.environ.setdefault("AIRFLOW_HOME", str(_HOME))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(Path(__file__).parent.parent / "dags"))
os.environ.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{_HOME}/airflow.db")

import pytest  # noqa: E402

from airflow_provider_akinon.testing import AkinonData, FakeAkinonServer  # noqa: E402

PASSWORD = "s3cret-Pa55"


@pytest.fixture
def server():
    """A fake tenant of 500 orders over 2026-01-01..03, with faults off."""
    with FakeAkinonServer(AkinonData(orders=500), users={"akinon": PASSWORD}) as srv:
        yield srv


@pytest.fixture
def make_hook(server, monkeypatch):
    """Build an AkinonHook on an env-var connection to ``server``; its waits are recorded, not slept."""
    from airflow_provider_akinon.hooks.akinon import AkinonHook

    def make(conn_id: str = "akinon_test", *, token: bool = False, target=None, **extra):
        target = target or server
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", target.connection_json(token=token, **extra))
        hook = AkinonHook(akinon_conn_id=conn_id)
        hook.waits = []
        hook.sleep = hook.waits.append
        return hook

    return make
