"""A Delta or Iceberg table shows its version, and the last hour of the changes feed merged into it."""

from __future__ import annotations

from datetime import date

import pytest

from airflow_provider_akinon.coverage.__main__ import main
from airflow_provider_akinon.coverage.reader import read_coverage
from airflow_provider_akinon.exports import merge_export
from tests.coverage.build import HOUR, Tenant, midnight, partition

HOURS = [midnight(date(2026, 1, 1)) + HOUR * h for h in (9, 10, 11, 12)]  # 3, 0, 5 and 3 orders changed


@pytest.mark.parametrize("table_format", ["delta", "iceberg"])
def test_a_table_shows_its_version_and_the_last_hour_merged(akinon_default, tmp_path, table_format, capsys):
    """Hours 09 to 11 merged, 12 not: the last merged is 11, 12 is not merged since (10, empty, is neither);
    the version the merges'."""
    if table_format == "iceberg":
        pytest.importorskip("pyiceberg", reason="the [iceberg] extra (Airflow 3)")
    feed = Tenant(akinon_default, f"{tmp_path}/akinon/changes/orders", date_field="modified_date")
    manifests = [feed.export(h, h + HOUR, hourly=True, file_format="parquet") for h in HOURS]
    table = f"{tmp_path}/akinon/current/orders"
    merged = [
        merge_export(partition(feed.root, h, hourly=True), table, table_format=table_format)
        for h in HOURS[:3]
    ]
    coverage = read_coverage(f"{tmp_path}/akinon/current", changes=feed.root)
    found = coverage.table
    assert found is not None
    assert coverage.days == []
    assert (found.table_format, found.version) == (table_format, merged[-1]["table_version"])
    assert found.newest_export == manifests[2]["created_at"]
    assert (found.last_merged, found.not_merged, found.no_rows) == (
        "hour=2026-01-01T11",
        ["hour=2026-01-01T12"],
        [],
    )
    assert dict(found.rows())["last merged"] == "hour=2026-01-01T11"
    alone = read_coverage(table).table
    assert alone is not None
    assert (alone.version, alone.changes, alone.last_merged) == (found.version, None, None)
    capsys.readouterr()
    assert main([table, "--changes", feed.root, "--no-drift"]) == 1  # an hour of the feed not merged
    shown = dict(
        line.split(None, 1) if "  " not in line else line.split("  ", 1)
        for line in capsys.readouterr().out.splitlines()[4:]
    )
    assert shown["table"].strip() == f"{table_format} at file://{table}/"
    assert shown["last merged"].strip() == "hour=2026-01-01T11"
    assert shown["not merged since"].strip() == "1: hour=2026-01-01T12"
