"""The soak's table from what a deployment's database answers (the soak itself runs for half an hour)."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.soak.chaos import Chaos
from tests.soak.checks import Tally
from tests.soak.report import report


class Answers:
    """A deployment whose database answers the two queries the report asks."""

    def query(self, sql: str, *params: str) -> list[tuple]:
        assert params == ("a", "b")
        if "FROM task_instance" in sql:
            return [(1, "success"), (3, "success"), (None, "skipped")]
        return [("a", "success", 4), ("b", "success", 2)]


def test_the_table_counts_kills_attempts_retries_and_records():
    chaos = Chaos(kill=print, restart=print, components=("x",), seed=7)
    chaos.kills.update({"worker-1": 2, "redis": 1})
    tally = Tally(exported=120)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    table = report(
        Answers(), ("a", "b"), chaos, tally, {"partitions": 9, "superseded": 1}, 3, 42.4, 77, at, at
    )
    assert "| kills per component | redis 1, worker-1 2 |" in table
    assert "| kills in all | 3 |" in table
    assert "| DAG runs by state | a success 4; b success 2 |" in table
    assert "| task instances / attempts | 3 / 5 |" in table
    assert "| task instances retried / of them succeeded | 1 / 1 |" in table
    assert "| last kill to last run finished | 42 s |" in table
    assert "| records exported | 120 |" in table
    assert "| records lost | 0 |" in table
