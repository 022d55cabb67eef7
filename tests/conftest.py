"""Test set-up: an isolated AIRFLOW_HOME per run, and the fake Akinon server over real HTTP."""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
from pathlib import Path

# Airflow reads its configuration at import time: isolate it before anything imports airflow. Each
# pytest-xdist worker gets a home (and SQLite database) of its own; the home goes when the process ends.
# What a person set is kept; what these tests set (named in _OURS, which workers inherit) is set again.
_HOME = Path(tempfile.mkdtemp(prefix="akinon-airflow-home-"))
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)
_OURS = "AKINON_TESTS_SET"
_ours = set(filter(None, os.environ.get(_OURS, "").split(",")))
for _key, _value in {
    "AIRFLOW_HOME": str(_HOME),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__DAGS_FOLDER": str(Path(__file__).parent.parent / "dags"),
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_HOME}/airflow.db",
    # a key from the start, as a deployment has: else ``airflow db migrate`` writes a random one into the
    # home's airflow.cfg mid-session and processes started after it decrypt differently from this one
    "AIRFLOW__CORE__FERNET_KEY": "dGVzdHMtb2YtdGhlLWFraW5vbi1wcm92aWRlci0wMDA=",
}.items():
    if _key not in os.environ or _key in _ours:
        os.environ[_key] = _value
        _ours.add(_key)
os.environ[_OURS] = ",".join(sorted(_ours))

import pytest  # noqa: E402

from airflow_provider_akinon.testing import AkinonData, FakeAkinonServer  # noqa: E402

PASSWORD = "s3cret-Pa55"


@pytest.fixture(autouse=True)
def _airflow_settings_kept():
    """A test leaves Airflow's settings in the environment as it found them (after its monkeypatch is
    undone): every Airflow a later test starts inherits them. A command run in-process once left
    AIRFLOW__LOGGING__LOGGING_LEVEL=ERROR behind, and every deployment after it logged nothing."""
    before = {k: v for k, v in os.environ.items() if k.startswith("AIRFLOW__")}
    yield
    after = {k: v for k, v in os.environ.items() if k.startswith("AIRFLOW__")}
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, f"the test left Airflow settings changed in os.environ: {changed}"


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


@pytest.fixture
def akinon_default(server, monkeypatch):
    """``akinon_default`` points at ``server`` (login + password; quick retries)."""
    monkeypatch.setenv("AIRFLOW_CONN_AKINON_DEFAULT", server.connection_json())
    return server


@pytest.fixture(scope="session")
def moto_s3():
    """
    A real S3 API (moto's server) on loopback, with bucket ``lake`` and connection ``aws_moto``.

    In its own process: a server thread in this process would need the GIL to answer, and delta-rs
    holds it while it waits for the answer.
    """
    import json
    import socket
    import subprocess
    import sys
    import time

    import boto3

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    moto = subprocess.Popen(  # moto's server, its writes atomic as S3's are (tests/support/s3_server.py)
        [sys.executable, "-m", "tests.support.s3_server", "-H", "127.0.0.1", "-p", str(port)],
        cwd=Path(__file__).parents[1],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while True:  # listening yet?
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        assert moto.poll() is None, "moto's server exited"
        assert time.monotonic() < deadline, "moto's server did not start listening"
        time.sleep(0.1)
    endpoint = f"http://127.0.0.1:{port}"
    previous = os.environ.get("AIRFLOW_CONN_AWS_MOTO")
    os.environ["AIRFLOW_CONN_AWS_MOTO"] = json.dumps(
        {
            "conn_type": "aws",
            "login": "testing",
            "password": "testing",
            "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"},
        }
    )
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket="lake")
    yield client
    moto.terminate()
    moto.wait(timeout=30)
    if previous is None:
        os.environ.pop("AIRFLOW_CONN_AWS_MOTO", None)


@pytest.fixture
def s3_dest(moto_s3, request):
    """A fresh ``s3://aws_moto@lake/...`` prefix per test."""
    return f"s3://aws_moto@lake/{request.node.name.replace('[', '-').replace(']', '')}"


@pytest.fixture(scope="session")
def airflow_db():
    """Airflow's metadata database (SQLite in the test AIRFLOW_HOME), migrated once per session."""
    import subprocess
    import sys

    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
        timeout=600,
    )
    # Airflow 2: DagRunNote references FAB's ab_user; its model must be mapped for dag.test()
    with contextlib.suppress(ImportError):
        import airflow.providers.fab.auth_manager.models  # noqa: F401


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Under ``pytest -n 2 --dist loadgroup`` the deployments run one after another on one worker."""
    for item in items:
        if item.get_closest_marker("scheduler"):
            item.add_marker(pytest.mark.xdist_group("deployments"))


def pytest_runtest_setup(item):
    """
    Under pytest-xdist, a deployment's processes come first on the CPU: the worker running one keeps the
    default priority, the other runs its tests at a lower one (``nice``), so the two cores serve the
    deployment's components before the unit tests beside them. Priorities only order CPU time.
    """
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    with contextlib.suppress(PermissionError):  # lowering niceness again needs root (as make test has)
        os.setpriority(os.PRIO_PROCESS, 0, 0 if item.get_closest_marker("scheduler") else 10)
