"""The example DAGs import on this Airflow, have real intervals, and dag.test() exports three days."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from airflow_provider_akinon.exports import iter_export_records, read_manifest
from airflow_provider_akinon.testing import AkinonData, FakeAkinonServer

DAGS = Path(__file__).parents[2] / "dags"
UTC = UTC


@pytest.fixture(scope="module")
def dagbag():
    from airflow.models.dagbag import DagBag

    return DagBag(str(DAGS))


def test_dags_import_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert {"akinon_daily_export", "akinon_daily_summary", "akinon_range_export"} <= set(dagbag.dags)


def test_daily_timetable_gives_non_zero_daily_intervals(dagbag):
    from airflow.timetables.base import TimeRestriction

    timetable = dagbag.dags["akinon_daily_export"].timetable
    try:  # Airflow 3 DAGs hold the SDK timetable; the scheduler runs its core twin
        from airflow.serialization.encoders import coerce_to_core_timetable

        timetable = coerce_to_core_timetable(timetable)
    except ImportError:
        pass
    start = datetime(2026, 1, 1, tzinfo=UTC)
    info = timetable.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(earliest=start, latest=None, catchup=True),
    )
    assert info.data_interval.start == start
    assert info.data_interval.end - info.data_interval.start == timedelta(days=1)


def test_export_tasks_have_asset_outlets_and_a_pool_that_exists(dagbag):
    dag = dagbag.dags["akinon_daily_export"]
    exports = [t for t in dag.tasks if t.task_id.startswith("export_")]
    assert len(exports) == 3
    for t in exports:
        assert t.pool == "default_pool"  # always there: a missing pool would park the task for ever
        assert [outlet.uri for outlet in t.outlets] == [f"akinon://akinon_default/{t.task_id[7:]}"]
    assert dag.get_task("wait_for_day_to_close").deferrable


def test_every_example_dag_documents_itself_and_triggers_with_its_defaults(dagbag):
    from airflow_provider_akinon.compat import Param

    for dag_id, dag in dagbag.dags.items():
        assert dag.doc_md, dag_id
        assert dag.doc_md.strip().startswith("###"), dag_id
        for name, param in dag.params.items():
            value = (
                param.resolve() if isinstance(param, Param) else param
            )  # defaults validate: no input needed
            assert name != "base" or value is None, (dag_id, name)
    mapped = dagbag.dags["akinon_range_export"].get_task("export_orders")
    assert mapped.map_index_template == "{{ task.start[:10] }}"


def test_the_summary_summarises_exactly_the_partitions_its_events_name(tmp_path):
    import importlib.util
    from types import SimpleNamespace

    spec = importlib.util.spec_from_file_location("summary_dag", DAGS / "akinon_daily_summary.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def event(resource, day, uri):
        return SimpleNamespace(
            extra={"resource": resource, "uri": uri, "window": {"start": f"{day}T00:00:00Z"}}
        )

    events = {
        "orders": [event("orders", "2026-01-02", "u/o2"), event("orders", "2026-01-03", "u/o3")],
        "order_items": [event("order_items", "2026-01-02", "u/i2")],
    }
    assert module.partitions_of(events) == {
        "2026-01-02": {"orders": "u/o2", "order_items": "u/i2"},
        "2026-01-03": {"orders": "u/o3"},
    }
    # an export of two days (one event per day on Airflow 3.3+, each naming the same export): each day's
    # summary counts its own day's orders only
    codes = [("450", "02"), ("50", "02"), ("100", "02"), ("550", "02"), ("600", "03")]
    folder = tmp_path / "orders"
    folder.mkdir()
    rows = b"".join(
        b'{"id": %d, "status": "%s", "amount": "1.00", "created_date": "2026-01-%sT10:00:00Z"}\n'
        % (n, c.encode(), d.encode())
        for n, (c, d) in enumerate(codes)
    )
    (folder / "part-00000.jsonl").write_bytes(rows)
    entry = {
        "name": "part-00000.jsonl",
        "records": 5,
        "bytes": len(rows),
        "sha256": hashlib.sha256(rows).hexdigest(),
    }
    manifest = {"format": "jsonl", "files": [entry], "date_field": "created_date"}
    (folder / "_manifest.json").write_text(json.dumps(manifest))
    two_days = {"orders": [SimpleNamespace(extra={
        "resource": "orders", "uri": str(folder), "window": {"start": "2026-01-02T00:00:00Z"},
        "partitions": {"2026-01-02": {}, "2026-01-03": {}},
    })]}  # fmt: skip
    assert module.partitions_of(two_days, "2026-01-03") == {"2026-01-03": {"orders": str(folder)}}
    summary = module.summary_of("2026-01-02", {"orders": str(folder)})
    assert list(summary["by_status"]) == ["50", "100", "450", "550"]  # by status code, not as text
    assert module.summary_of("2026-01-03", {"orders": str(folder)})["orders"] == 1  # not the window's 5


def test_the_daily_changes_report_covers_the_hours_of_its_day(dagbag, tmp_path):
    """Airflow 3.3+: one run a day once its 24 hourly partitions landed (RollupMapper over a DayWindow);
    the report reads that day's hourly partitions only, the last version of each order deciding."""
    import importlib.util
    from types import SimpleNamespace

    dag = dagbag.dags["akinon_changes_daily"]
    timetable = type(dag.timetable).__name__
    rollup = importlib.util.find_spec("airflow.sdk") is not None and hasattr(
        importlib.import_module("airflow.sdk"), "RollupMapper"
    )
    if rollup:
        assert timetable == "PartitionedAssetTimetable"
        mapper = dag.timetable.default_partition_mapper
        assert type(mapper).__name__ == "RollupMapper"
    else:  # a run on each update of the asset, as before
        assert timetable in ("AssetTriggeredTimetable", "DatasetTriggeredTimetable")
    spec = importlib.util.spec_from_file_location("changes_daily", DAGS / "akinon_changes_daily.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def hour(name: str, orders: list[tuple[int, str, str]]) -> None:
        folder = tmp_path / "akinon" / "changes" / "orders" / f"hour={name}"
        folder.mkdir(parents=True)
        rows = b"".join(
            json.dumps({"id": i, "modified_date": at, "status": status}).encode() + b"\n"
            for i, at, status in orders
        )
        (folder / "part-00000.jsonl").write_bytes(rows)
        entry = {"name": "part-00000.jsonl", "records": len(orders), "bytes": len(rows)}
        entry["sha256"] = hashlib.sha256(rows).hexdigest()
        (folder / "_manifest.json").write_text(json.dumps({"format": "jsonl", "files": [entry]}))

    hour("2026-01-02T10", [(1, "2026-01-02T10:05:00Z", "100"), (2, "2026-01-02T10:30:00Z", "100")])
    hour("2026-01-02T11", [(1, "2026-01-02T11:10:00Z", "550")])
    hour("2026-01-03T00", [(2, "2026-01-03T00:10:00Z", "600")])  # the next day: not in this report
    report = module.day_report(str(tmp_path), "2026-01-02")
    assert report == {
        "date": "2026-01-02",
        "hours": 2,
        "versions": 3,
        "orders_changed": 2,
        "ended_in_status": {"100": 1, "550": 1},
    }
    run = SimpleNamespace(partition_key="2026-01-02")
    assert module.day_of({"dag_run": run}) == "2026-01-02"
    hourly = {"orders": [SimpleNamespace(extra={"window": {"start": "2026-01-03T05:00:00.000000Z"}})]}
    assert module.day_of(
        {"dag_run": SimpleNamespace(partition_key=None), "triggering_asset_events": hourly}
    ) == ("2026-01-03")


@pytest.fixture
def four_days(monkeypatch, tmp_path):
    data = AkinonData(orders=240, start="2026-01-01", days=4, seed=3)
    with FakeAkinonServer(data) as server:
        monkeypatch.setenv("AIRFLOW_CONN_AKINON_DEFAULT", server.connection_json())
        monkeypatch.setenv("AIRFLOW_VAR_AKINON_EXPORT_BASE", str(tmp_path))
        yield server, tmp_path


def test_dag_test_over_three_consecutive_days_writes_three_complete_partitions(dagbag, airflow_db, four_days):
    server, base = four_days
    dag = dagbag.dags["akinon_daily_export"]
    for day in (1, 2, 3):
        # a manual run (as dag.test makes) covers the interval that ended last: the day before
        run_date = datetime(2026, 1, day + 1, tzinfo=UTC)
        try:
            run = dag.test(logical_date=run_date)
        except TypeError:  # Airflow 2
            run = dag.test(execution_date=run_date)
        assert str(run.state).endswith("success"), run.state
    for day in (1, 2, 3):
        start, end = f"2026-01-0{day}T00:00:00", f"2026-01-0{day + 1}T00:00:00"
        for resource, key in (("orders", "id"), ("order_items", "pk"), ("discount_items", "pk")):
            folder = base / "akinon" / resource / f"date=2026-01-0{day}"
            manifest = read_manifest(str(folder))
            got = [r[key] for r in iter_export_records(str(folder))]
            assert got == server.data.expected(resource, "created_date", start, end), (resource, day)
            assert manifest["records"] == len(got) > 0
    assert sorted(os.listdir(base / "akinon" / "orders")) == [f"date=2026-01-0{d}" for d in (1, 2, 3)]


def test_order_changes_dag_feeds_partitions_and_the_current_state_table(dagbag, airflow_db, four_days):
    pytest.importorskip("deltalake")
    from deltalake import DeltaTable

    server, base = four_days
    dag = dagbag.dags["akinon_order_changes"]
    hours = [datetime(2026, 1, 2, hour, tzinfo=UTC) for hour in (10, 11)]
    for hour in hours:
        try:  # a manual run covers the hour that ended last
            run = dag.test(logical_date=hour + timedelta(hours=1))
        except TypeError:  # Airflow 2
            run = dag.test(execution_date=hour + timedelta(hours=1))
        assert str(run.state).endswith("success"), run.state
    changed = server.data.expected("orders", "modified_date", "2026-01-02T10:00:00", "2026-01-02T12:00:00")
    assert changed
    for hour in hours:
        folder = base / "akinon" / "changes" / "orders" / f"hour={hour:%Y-%m-%dT%H}"
        got = [r["id"] for r in iter_export_records(str(folder))]
        assert got == server.data.expected(
            "orders", "modified_date", hour.isoformat(), (hour + timedelta(hours=1)).isoformat()
        )
    current = DeltaTable(str(base / "akinon" / "current" / "orders")).to_pyarrow_table()
    assert sorted(current.column("id").to_pylist()) == changed
    items = DeltaTable(str(base / "akinon" / "current" / "order_items")).to_pyarrow_table()
    assert sorted(items.column("pk").to_pylist()) == [
        pk for oid in changed for pk in server.data.item_pks(oid)
    ]


def test_event_runs_export_from_the_last_id_exported_to_the_newest_order():
    import importlib.util

    spec = importlib.util.spec_from_file_location("events_dag", DAGS / "akinon_new_orders_events.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    events = [{"after_id": 100, "to_id": 120}, {"after_id": 120, "to_id": 130}]
    # the first run: from the first event's start to the newest order now (orders whose events wait)
    assert module.next_range(events, {}, 135) == {"after_id": 100, "to_id": 135, "label": "101-135"}
    assert module.next_range(events, {}, None)["label"] == "101-130"
    # later runs start at the last id exported, whatever their events say (a lost event's orders too)
    assert module.next_range([{"after_id": 120, "to_id": 130}], {"to_id": 90}, 130)["label"] == "91-130"
    # a range fired again after a run exported it: nothing new, nothing exported twice
    assert module.next_range([{"after_id": 100, "to_id": 120}], {"to_id": 120}, 120) is None
    # a run that did not finish: its range again, as the same partition
    pending = {"after_id": 120, "to_id": 125, "label": "121-125"}
    assert module.next_range(events, {"to_id": 120, "pending": pending}, 140) == pending
    with pytest.raises(ValueError, match="no new-orders event"):
        module.next_range([], {}, 10)


def test_the_range_in_one_task_writes_a_partition_per_day(dagbag, airflow_db, four_days):
    server, base = four_days
    dag = dagbag.dags["akinon_range_partitions"]
    run = dag.test(run_conf={"start": "2026-01-01", "end": "2026-01-04"})
    assert str(run.state).endswith("success"), run.state
    for day in (1, 2, 3):
        start, end = f"2026-01-0{day}T00:00:00", f"2026-01-0{day + 1}T00:00:00"
        folder = base / "akinon" / "orders" / f"date=2026-01-0{day}"
        got = [r["id"] for r in iter_export_records(str(folder))]
        assert got == server.data.expected("orders", "created_date", start, end), day
