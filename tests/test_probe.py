"""``python -m airflow_provider_akinon.probe``: the table a user sees first against a real tenant."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from airflow_provider_akinon import probe


def run_probe(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "airflow_provider_akinon.probe", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )


def test_the_probe_command_prints_its_table(server):
    server.api.max_limit = 100
    server.api.ignore_params = frozenset({"order__in"})
    env = {"AIRFLOW_CONN_AKINON_DEFAULT": server.connection_json(page_size=250)}
    done = run_probe(env)
    assert done.returncode == 0, done.stderr
    header, _, body = done.stdout.partition("\n\n")
    assert header == f"Akinon API at {server.url} (connection 'akinon_default'), endpoint orders/"
    rows = dict(
        line.split(None, 1) if "  " not in line else line.split("  ", 1) for line in body.splitlines()
    )
    rows = {question.strip(): answer.strip() for question, answer in rows.items()}
    assert rows["question"] == "answer"
    assert rows["records visible"] == "500"
    assert rows["page size (limit)"] == "capped at 100 (asked 250)"
    assert rows["paging"] == "page"
    assert rows["sort"] == "sort=id honoured"
    assert rows["id__gt"] == rows["id__lt"] == "honoured"
    assert rows["created_date__gte"] == rows["created_date__lt"] == "honoured"
    assert rows["created_date time zone"] == "Z"
    assert rows["a day exports by"] == "keyset (id cursor), by the date filter"
    assert rows["a day's requests"].startswith("about ")
    assert rows["order_items: order__in"] == rows["discount_items: order__in"] == "IGNORED"


def test_the_probe_command_fails_clearly_without_a_reachable_host():
    conn = {"conn_type": "akinon", "host": "http://127.0.0.1:9", "login": "a", "password": "b"}
    done = run_probe({"AIRFLOW_CONN_PROBE_DOWN": json.dumps(conn)}, "--conn-id", "probe_down")
    assert done.returncode == 2
    assert (
        "Could not probe orders/ with connection 'probe_down': cannot reach http://127.0.0.1:9" in done.stderr
    )
    assert "Traceback" not in done.stderr


def table_of(output: str) -> dict[str, str]:
    """The probe command's table as ``{question: answer}``."""
    _, _, body = output.partition("\n\n")
    rows = [re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in body.splitlines()[2:]]
    return {row[0]: row[1] for row in rows if len(row) == 2}


def test_a_child_list_the_tenant_does_not_have_is_absent_not_ignored(server, monkeypatch, capsys):
    handle = server.handle

    def without_discounts(handler, method):  # a tenant without the discount items list: 404
        if "discount_items/" in handler.path:
            return handler.send_json(404, {"detail": "Not found."})
        return handle(handler, method)

    monkeypatch.setattr(server, "handle", without_discounts)
    monkeypatch.setenv("AIRFLOW_CONN_AKINON_DEFAULT", server.connection_json())
    assert probe.main([]) == 0
    rows = table_of(capsys.readouterr().out)
    assert rows["discount_items: order__in"] == "absent (discount_items/detailed_integration/ answers 404)"
    assert rows["order_items: order__in"] == "honoured"


def test_a_list_without_a_count_says_so_and_its_paging_is_consistent(server, monkeypatch, capsys):
    server.api.pagination, server.api.max_limit = "cursor", 100  # no count; a cap; the next link in the body
    monkeypatch.setenv("AIRFLOW_CONN_AKINON_DEFAULT", server.connection_json())
    assert probe.main([]) == 0
    rows = table_of(capsys.readouterr().out)
    assert rows["records visible"] == "not counted (its answers carry no count)"
    assert rows["paging"] == "cursor"
    assert rows["page size (limit)"] == "capped at 100 (asked 1000)"  # not "the whole list fits one page"
