"""What only a Delta table does: maintenance (compaction, vacuum), no empty commits, no children from a table.

The rules every table format keeps (current state, reruns, kills, concurrent merges, deletions):
``tests/exports/output/test_tables.py``.
"""

from __future__ import annotations

import pytest

pytest.importorskip("deltalake", reason="file_format='delta' needs the [delta] extra")

from deltalake import DeltaTable

from airflow_provider_akinon.errors import DestinationError
from airflow_provider_akinon.exports import maintain
from airflow_provider_akinon.operators.akinon import FetchOrderItemsOperator, FetchOrdersOperator
from tests.support.changes import DAYS, changes_tenant
from tests.support.tables import Table


@pytest.fixture
def tenant(monkeypatch):
    with changes_tenant(monkeypatch) as server:
        yield server


def test_maintenance_compacts_small_files_and_vacuums_old_ones(tenant, tmp_path):
    table = Table("delta", str(tmp_path / "orders"))
    for day in DAYS:
        table.export(day)
    before = table.rows()
    files_before = len(DeltaTable(table.path).file_uris())
    done = maintain(table.path, retention_days=0)
    assert done["files_removed"] == files_before > done["files_added"] == 1
    assert done["vacuumed"] >= files_before  # the compacted files are no longer referenced
    assert len(DeltaTable(table.path).file_uris()) == 1
    assert table.rows() == before


def test_an_empty_window_merges_nothing_and_orders_from_refuses_a_table(tenant, tmp_path):
    table = Table("delta", str(tmp_path / "orders"))

    def empty_window() -> dict:
        return FetchOrdersOperator(
            task_id="e", destination=table.path, date_field="modified_date", start="2020-01-01",
            end="2020-01-02", file_format="delta",
        ).execute({})  # fmt: skip

    empty = empty_window()
    assert (empty["records"], empty["table_version"]) == (0, None)
    summary = table.export("2026-01-02")
    assert empty_window()["table_version"] == summary["table_version"]  # no empty commit
    with pytest.raises(DestinationError, match="is a Delta table"):
        FetchOrderItemsOperator(
            task_id="i", destination=str(tmp_path / "items"), orders_from=summary
        ).execute({})


def test_maintenance_keeps_the_log_only_as_long_as_the_files(tmp_path):
    """Before: the log kept Delta's defaults (30 days of commits): an hourly feed's merges listed and
    replayed 720 more commits each (a one-row merge 0.035 s at 100 commits, 0.068 s at 3,000)."""
    import os
    import time

    from tests.exports.tables.test_layout import held, hours_of_a_shop

    table = tmp_path / "orders"
    hours_of_a_shop("delta", table, 12)
    before = held("delta", table)
    checkpointed = DeltaTable(str(table))
    checkpointed.create_checkpoint()  # as delta-rs makes one every 100 commits
    log = table / "_delta_log"
    an_hour_ago = time.time() - 3600
    for commit in log.iterdir():  # the commits so far, and their checkpoint, are an hour old
        os.utime(commit, (an_hour_ago, an_hour_ago))
    maintain(str(table), retention_days=0.01)  # 14 minutes
    delta = DeltaTable(str(table))
    assert delta.metadata().configuration["delta.logRetentionDuration"] == "interval 864 seconds"
    old = sorted(p.name for p in log.glob("*.json") if os.path.getmtime(p) <= an_hour_ago)
    assert old == [f"{checkpointed.version():020d}.json"]  # only the checkpointed commit of the old ones
    assert held("delta", table) == before
    with pytest.raises(Exception, match="No files in log segment"):
        DeltaTable(str(table), version=1).to_pyarrow_table()  # time travel reaches no further
