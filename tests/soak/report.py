"""The soak's table: what was killed, what Airflow retried, what was exported, lost and doubled."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.soak.chaos import Chaos
from tests.soak.checks import Tally


def report(
    deployment: Any,
    dags: tuple[str, ...],
    chaos: Chaos,
    tally: Tally,
    tidy: dict[str, int],
    event_runs: int,
    last_finish: float,
    scanned: int,
    since: datetime,
    closed: datetime,
) -> str:
    """A Markdown table of one soak (README shows one of ``make soak``)."""
    marks = ", ".join(["?"] * len(dags))
    tries = deployment.query(f"SELECT try_number, state FROM task_instance WHERE dag_id IN ({marks})", *dags)
    runs = deployment.query(
        f"SELECT dag_id, state, COUNT(*) FROM dag_run WHERE dag_id IN ({marks}) GROUP BY dag_id, state", *dags
    )
    attempts = sum(max(n or 0, 1) for n, _ in tries)
    retried = sum(1 for n, _ in tries if (n or 0) > 1)
    recovered = sum(1 for n, state in tries if (n or 0) > 1 and state == "success")
    kills = ", ".join(f"{name} {n}" for name, n in sorted(chaos.kills.items())) or "none"
    rows = [
        ("seed", chaos.seed),
        ("kills per component", kills),
        ("kills in all", sum(chaos.kills.values())),
        ("DAG runs by state", "; ".join(f"{dag} {state} {n}" for dag, state, n in sorted(runs))),
        ("task instances / attempts", f"{len(tries)} / {attempts}"),
        ("task instances retried / of them succeeded", f"{retried} / {recovered}"),
        ("event-driven runs that exported orders", event_runs),
        ("changes feed merged into Delta", f"{since:%H:%M}-{closed:%H:%M} UTC, every interval"),
        ("last kill to last run finished", f"{last_finish:.0f} s"),
        ("partitions checked (superseded parts kept)", f"{tidy['partitions']} ({tidy['superseded']})"),
        ("records exported", tally.exported),
        ("records lost", tally.lost),
        ("records doubled", tally.doubled),
        ("task logs and files scanned for secrets", scanned),
        ("invariants broken", len(tally.broken)),
    ]
    return "\n".join(["| soak | |", "|---|---|", *(f"| {name} | {value} |" for name, value in rows)])
