"""A new user's first hour, in a real browser: Airflow 3's UI in Debian's Chromium, driven by Playwright.

``airflow standalone`` runs on a fresh home with no pool made for the provider, the fake server holds orders
around today, and the browser does what a person would: log in, add the Akinon connection through its form,
trigger ``akinon_daily_export`` from the Trigger dialog with its defaults, and open a task's log. The run must
succeed, the log must open with the export (no warning above it), and the form must have saved only what was
typed. Screenshots of every step are kept under ``test-artifacts/browser/`` (``AKINON_TEST_ARTIFACTS``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import urllib.parse
from pathlib import Path

import pytest

from airflow_provider_akinon.testing import AkinonData, FakeAkinonServer
from tests.deployment import ROOT, Deployment, api_ready, api_server_env, base_env, free_port

pytestmark = [pytest.mark.scheduler, pytest.mark.timeout(900)]

airflow = pytest.importorskip("airflow")
if int(airflow.__version__.split(".")[0]) < 3:
    pytest.skip("the browser test drives Airflow 3's UI", allow_module_level=True)
playwright = pytest.importorskip("playwright.sync_api")

DAG_ID = "akinon_daily_export"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("AKINON_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "browser"
USER, PASSWORD = "admin", "admin-pass-123"
STEP_MS = 60_000  # every wait in the browser has this deadline


@pytest.fixture
def airflow_ui(tmp_path):
    """A fresh ``airflow standalone`` (no provider pool, no connection) and a fake tenant with recent orders."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `make test` installs Debian's chromium (apt-get install chromium)")
    start = (dt.datetime.now(dt.UTC) - dt.timedelta(days=3)).strftime("%Y-%m-%d")
    home, base = tmp_path / "airflow", tmp_path / "exports"
    home.mkdir()
    (home / "passwords.json").write_text(json.dumps({USER: PASSWORD}))
    port = free_port()
    with FakeAkinonServer(AkinonData(orders=200, start=start, days=5, seed=19)) as server:
        env = base_env(
            home,
            **api_server_env(port),
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=f"{USER}:admin",
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(home / "passwords.json"),
            AIRFLOW_VAR_AKINON_EXPORT_BASE=str(base),
            AKINON_POLL_SECONDS="1",
        )
        env.pop("AKINON_POOL")  # a fresh Airflow: the DAGs must not wait on a pool nobody made
        deployment = Deployment(home, env, deadline=600)
        deployment.cli("db", "migrate")
        deployment.start("standalone", "standalone")
        try:
            deployment.wait_for("the API server", lambda: api_ready(port))
            yield deployment, server, f"http://127.0.0.1:{port}", base
        finally:
            deployment.stop()


def test_a_new_user_adds_the_connection_triggers_the_daily_export_and_reads_a_clean_log(airflow_ui):
    deployment, server, url, base = airflow_ui
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    login, password = next(iter(server.users.items()))
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--no-first-run"]
        )
        page = browser.new_page(viewport={"width": 1600, "height": 1200})
        page.set_default_timeout(STEP_MS)
        shot = Screenshots(page)
        try:
            log_in(page, url)
            shot("logged-in")
            add_connection(page, url, host=server.url, login=login, password=password)
            shot("connection-saved")
            run_id = trigger_with_defaults(page, url, deployment)
            shot("triggered")
            deployment.wait_for(
                "the manual run to finish", lambda: run_state(deployment, run_id) in {"success", "failed"}
            )
            assert run_state(deployment, run_id) == "success", deployment.logs()
            text = task_log(page, url, run_id, "export_orders")
            shot("export-orders-log")
        finally:
            browser.close()

    # the form saved what was typed, and no default as an extra
    assert saved_extras(deployment) == {}
    # the log opens with the export: nothing (no masking warning) above its first line
    top = text[: text.index("Exporting orders")]
    assert "WARNING" not in top, top
    assert "Skipping masking" not in text
    deployment.assert_clean_task_logs()
    assert list(base.glob("akinon/**/orders/**/_manifest.json")), "no orders export was published"


class Screenshots:
    """Numbered full-page screenshots of each step, kept for a person to look at when the test fails."""

    def __init__(self, page) -> None:
        self.page, self.count = page, 0

    def __call__(self, name: str) -> None:
        self.count += 1
        self.page.screenshot(path=str(ARTIFACTS / f"{self.count:02d}-{name}.png"), full_page=True)


def log_in(page, url: str) -> None:
    page.goto(url + "/")
    page.get_by_label("Username").fill(USER)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda u: "login" not in u)


def add_connection(page, url: str, *, host: str, login: str, password: str) -> None:
    page.goto(url + "/connections")
    page.get_by_role("button", name="Add Connection").click()
    page.locator("input[name=connection_id]").fill("akinon_default")
    page.get_by_role("combobox").fill("Akinon")
    page.keyboard.press("Enter")
    page.locator("input[name=host]").fill(host)
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill(password)
    page.get_by_role("button", name="Save").click()
    playwright.expect(page.get_by_text("akinon_default").first).to_be_visible()


def trigger_with_defaults(page, url: str, deployment: Deployment) -> str:
    """Open the Trigger dialog, change nothing, trigger; the id of the manual run it made."""
    page.goto(f"{url}/dags/{DAG_ID}")
    page.get_by_role("button", name="Trigger").first.click()
    dialog = page.get_by_role("dialog")
    playwright.expect(dialog.get_by_role("button", name="Trigger")).to_be_enabled()
    dialog.get_by_role("button", name="Trigger").click()
    rows = deployment.wait_for(
        "the manual run",
        lambda: deployment.query(
            "SELECT run_id FROM dag_run WHERE dag_id = ? AND run_type = 'manual'", DAG_ID
        ),
    )
    return rows[0][0]


def saved_extras(deployment: Deployment) -> dict:
    """The extras the form saved with a value (the UI saves untouched fields as null)."""
    (conn,) = json.loads(deployment.cli("connections", "get", "akinon_default", "--output", "json"))
    extra = conn.get("extra_dejson") or json.loads(conn.get("extra") or "{}")
    return {key: value for key, value in extra.items() if value not in (None, "")}


def run_state(deployment: Deployment, run_id: str) -> str:
    return deployment.query("SELECT state FROM dag_run WHERE dag_id = ? AND run_id = ?", DAG_ID, run_id)[0][0]


def task_log(page, url: str, run_id: str, task_id: str) -> str:
    """The text of a task's log page, once its first line is shown."""
    page.goto(f"{url}/dags/{DAG_ID}/runs/{urllib.parse.quote(run_id)}/tasks/{task_id}")
    playwright.expect(page.get_by_text("Exporting orders").first).to_be_visible()
    return page.locator("body").inner_text()
