"""``python -m airflow_provider_akinon.coverage``: a table for people, JSON for machines, an exit status for both."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from airflow_provider_akinon.coverage.__main__ import main
from tests.coverage.build import DAY, Tenant, midnight

DAYS = [date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 3)]


@pytest.fixture
def root(akinon_default, tmp_path):
    """The ``server`` fixture's three days exported under ``<root>/akinon/orders/``; nothing of 2026-01-04."""
    days = Tenant(akinon_default, f"{tmp_path}/akinon/orders")
    days.export(midnight(DAYS[0]), midnight(DAYS[1]))
    for day in DAYS[1:]:
        days.publish(midnight(day), midnight(day) + DAY)
    return str(tmp_path)


def test_the_table_names_each_day_and_the_status_says_whether_all_are_there(root, akinon_default, capsys):
    """A missing day: status 1; the days exported alone: status 0. The heading says what was asked."""
    capsys.readouterr()  # what the fixture's export logged
    assert main([root, "--from", "2026-01-01", "--to", "2026-01-04"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert (
        out[0] == f"Coverage of orders at file://{root}/akinon/orders/, 2026-01-01 .. 2026-01-04 (UTC days)"
    )
    assert out[1] == (
        f"drift: asked of connection 'akinon_default' at {akinon_default.url}: 10 requests, at most 4 at a time"
    )
    assert out[3].split() == [
        "day",
        "state",
        "records",
        "version",
        "exported",
        "at",
        "provider",
        "changed",
        "details",
    ]
    assert out[5].split()[:6] == ["2026-01-01", "..", "2026-01-03", "exported", "500", "1"]  # alike: one row
    assert out[5].endswith("0  3 days")  # none changed
    assert out[6].split() == ["2026-01-04", "missing", "no", "partition"]
    assert out[-1] == "4 days: 3 exported, 1 missing"
    assert main([root, "--from", "2026-01-01", "--to", "2026-01-03", "--every-day", "--no-drift"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "drift: not asked (--no-drift)"
    assert [line.split()[0] for line in out[5:8]] == ["2026-01-01", "2026-01-02", "2026-01-03"]


def test_json_is_a_list_of_every_day(root, capsys):
    """One object a day with every field, whatever runs the table would fold."""
    capsys.readouterr()
    assert main([root, "--list", "orders", "--to", "2026-01-04", "--json"]) == 1
    days = json.loads(capsys.readouterr().out)
    assert [(d["day"], d["state"], d["records"], d["changed"], d["count_now"]) for d in days] == [
        ("2026-01-01", "exported", 167, 0, 167),
        ("2026-01-02", "exported", 166, 0, 166),
        ("2026-01-03", "exported", 167, 0, 167),
        ("2026-01-04", "missing", None, None, None),
    ]
    assert days[1]["uri"] == f"file://{root}/akinon/orders/date=2026-01-02/"
    assert set(days[0]) == {
        "day", "state", "records", "version", "exported_at", "provider_version", "changed", "count_now",
        "partitions", "uri", "details",
    }  # fmt: skip


def test_what_cannot_be_read_or_asked_is_said_with_status_2(root, tmp_path, capsys):
    """A folder without partitions, a connection that does not exist: one line each on stderr."""
    capsys.readouterr()
    assert main([str(tmp_path / "elsewhere"), "--no-drift"]) == 2
    assert "holds no partitions (date=YYYY-MM-DD/, hour=YYYY-MM-DDTHH/)" in capsys.readouterr().err
    assert main([root, "--conn", "no_such_connection"]) == 2
    assert capsys.readouterr().err.startswith("Cannot use connection 'no_such_connection': ")


def test_the_module_runs_as_a_command(root):
    """``python -m airflow_provider_akinon.coverage``, as a person types it (in a process of its own)."""
    done = subprocess.run(
        [sys.executable, "-m", "airflow_provider_akinon.coverage", f"{root}/akinon/orders", "--to", "2026-01-03",
         "--json"],
        capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[2], env=os.environ.copy(),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert [d["state"] for d in json.loads(done.stdout)] == ["exported"] * 3
