"""Export operators against the fake Akinon server (real HTTP), into file:// and moto's S3 server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from airflow_provider_akinon.compat import PARTITIONED_EVENTS
from airflow_provider_akinon.errors import (
    AkinonApiError,
    AkinonConfigError,
    AkinonPageError,
    ExportConsistencyError,
    WindowError,
)
from airflow_provider_akinon.exports import iter_export_records, read_manifest
from airflow_provider_akinon.operators.akinon import (
    FetchDiscountItemsOperator,
    FetchOmsOrderItemsOperator,
    FetchOrderItemsOperator,
    FetchOrdersOperator,
)

OPERATORS = {
    "orders": FetchOrdersOperator,
    "order_items": FetchOrderItemsOperator,
    "discount_items": FetchDiscountItemsOperator,
    "oms_order_items": FetchOmsOrderItemsOperator,
}
PK = {"orders": "id", "order_items": "pk", "discount_items": "pk", "oms_order_items": "id"}
DAY = {"start": "2026-01-02T00:00:00Z", "end": "2026-01-03T00:00:00Z"}


def export(resource, destination, **kwargs):
    op = OPERATORS[resource](task_id=f"export_{resource}", destination=destination, **{**DAY, **kwargs})
    return op.execute({})


def pks(uri, resource):
    return [record[PK[resource]] for record in iter_export_records(uri)]


def listing(uri):
    """The parts of an export, in order: records and bytes (names are the run's own)."""
    manifest = read_manifest(uri)
    return [(f["records"], f["sha256"]) for f in manifest["files"]]


@pytest.mark.parametrize("file_format", ["jsonl", "jsonl.gz", "parquet"])
@pytest.mark.parametrize("resource", list(OPERATORS))
def test_each_operator_and_format_exports_the_exact_record_set_to_file(
    akinon_default, tmp_path, resource, file_format
):
    server = akinon_default
    summary = export(resource, str(tmp_path / resource), file_format=file_format, page_size=20)
    expected = server.data.expected(resource, "created_date", DAY["start"], DAY["end"])
    got = pks(summary["uri"], resource)
    assert sorted(got) == expected
    assert len(got) == len(set(got))
    assert summary["records"] == len(expected)
    manifest = read_manifest(summary["uri"])
    assert manifest["records"] == manifest["count"] == len(expected)
    assert manifest["window"] == {
        "start": "2026-01-02T00:00:00.000000Z",
        "end": "2026-01-03T00:00:00.000000Z",
    }
    assert manifest["format"] == file_format
    assert sorted(p.name for p in (tmp_path / resource).iterdir()) == sorted(
        ["_manifest.json", "_akinon", *(f["name"] for f in manifest["files"])]
    )


@pytest.mark.parametrize("file_format", ["jsonl", "jsonl.gz", "parquet"])
@pytest.mark.parametrize("resource", list(OPERATORS))
def test_each_operator_exports_to_s3(akinon_default, s3_dest, resource, file_format):
    server = akinon_default
    summary = export(resource, f"{s3_dest}/{resource}/", file_format=file_format, page_size=25)
    assert summary["uri"].startswith("s3://")
    expected = server.data.expected(resource, "created_date", DAY["start"], DAY["end"])
    assert sorted(pks(summary["uri"], resource)) == expected
    # rerun: same file list, same bytes, nothing stale
    before = listing(summary["uri"])
    export(resource, f"{s3_dest}/{resource}/", file_format=file_format, page_size=25)
    assert listing(summary["uri"]) == before


def test_records_are_written_as_the_api_returned_them(akinon_default, tmp_path):
    server = akinon_default
    summary = export("orders", str(tmp_path), page_size=50)
    first = next(iter_export_records(summary["uri"]))
    assert first == server.data.order(first["id"])


def test_parquet_keeps_money_as_decimals_and_timestamps_as_timestamps(akinon_default, tmp_path):
    import decimal

    import pyarrow.parquet as pq

    summary = export("orders", str(tmp_path), file_format="parquet")
    manifest = read_manifest(summary["uri"])
    table = pq.read_table(tmp_path / manifest["files"][0]["name"])
    assert str(table.schema.field("amount").type) == "decimal128(18, 4)"
    assert str(table.schema.field("created_date").type) == "timestamp[us, tz=UTC]"
    row = table.slice(0, 1).to_pylist()[0]
    record = json.loads(row["_record"])
    assert row["amount"] == decimal.Decimal(record["amount"])
    assert row["created_date"] == datetime.fromisoformat(record["created_date"].replace("Z", "+00:00"))


def test_rerun_replaces_exactly_that_export(akinon_default, tmp_path):
    first = export("orders", str(tmp_path), page_size=10, max_file_bytes=50_000)
    files_before = listing(first["uri"])
    assert len(files_before) > 3
    again = export("orders", str(tmp_path), page_size=10, max_file_bytes=50_000)
    assert listing(again["uri"]) == files_before
    # a rerun that writes fewer, larger files leaves no stale part behind
    export("orders", str(tmp_path), page_size=10, max_concurrency=1)
    names = sorted(p.name for p in tmp_path.iterdir() if p.name != "_akinon")  # the provider's bookkeeping
    assert names == ["_manifest.json", read_manifest(str(tmp_path))["files"][0]["name"]]
    assert len(names) == 2
    assert len(pks(first["uri"], "orders")) == first["records"]


def test_failure_mid_export_leaves_the_previous_export_untouched(akinon_default, tmp_path, monkeypatch):
    server = akinon_default
    export("orders", str(tmp_path), page_size=10, max_file_bytes=50_000)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    monkeypatch.setenv("AIRFLOW_CONN_AKINON_DEFAULT", server.connection_json(max_retries=0))
    server.faults.error_every = 9  # a 5xx mid-walk, with no retries left
    with pytest.raises(AkinonApiError, match="failed after 1 attempts"):
        export("orders", str(tmp_path), page_size=10, max_file_bytes=50_000)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before


def test_failure_mid_export_to_s3_leaves_the_previous_export_untouched(
    akinon_default, moto_s3, s3_dest, monkeypatch
):
    server = akinon_default
    dest = f"{s3_dest}/orders/"
    export("orders", dest, page_size=10, max_file_bytes=50_000)
    prefix = dest.split("@lake/", 1)[1]

    def objects():
        listed = moto_s3.list_objects_v2(Bucket="lake", Prefix=prefix).get("Contents", [])
        return {o["Key"]: moto_s3.get_object(Bucket="lake", Key=o["Key"])["Body"].read() for o in listed}

    before = objects()
    assert any(key.endswith("_manifest.json") for key in before)
    assert sum(key.split("/")[-1].startswith("part-") for key in before) > 1
    monkeypatch.setenv("AIRFLOW_CONN_AKINON_DEFAULT", server.connection_json(max_retries=0))
    server.faults.error_every = 9
    with pytest.raises(AkinonApiError, match="failed after 1 attempts"):
        export("orders", dest, page_size=10, max_file_bytes=50_000)
    assert objects() == before


def test_failed_first_export_leaves_no_manifest(akinon_default, tmp_path, monkeypatch):
    server = akinon_default
    monkeypatch.setenv("AIRFLOW_CONN_AKINON_DEFAULT", server.connection_json(max_retries=0))
    server.faults.error_every = 5
    with pytest.raises(AkinonApiError, match="failed after"):
        export("orders", str(tmp_path / "x"), page_size=10)
    assert not (tmp_path / "x" / "_manifest.json").exists()
    assert not any((tmp_path / "x").glob("part-*"))


@pytest.mark.parametrize(
    ("kwargs", "context", "match"),
    [
        ({"start": None, "end": None}, {}, "no data interval"),
        ({"start": "2026-01-02", "end": "2026-01-02"}, {}, "zero-width"),
        (
            {"start": None, "end": None},
            {
                "data_interval_start": datetime(2026, 1, 2, tzinfo=UTC),
                "data_interval_end": datetime(2026, 1, 2, tzinfo=UTC),
            },
            "CronTriggerTimetable",
        ),
        ({"start": "2026-01-03", "end": "2026-01-02"}, {}, "is after end"),
        ({"start": "yesterday", "end": "2026-01-02"}, {}, "not an ISO date"),
    ],
)
def test_missing_and_zero_width_windows_are_refused_before_any_request(
    akinon_default, tmp_path, kwargs, context, match
):
    op = FetchOrdersOperator(task_id="o", destination=str(tmp_path / "w"), **kwargs)
    with pytest.raises(WindowError, match=match) as err:
        op.execute(context)
    assert "CronDataIntervalTimetable" in str(err.value) or match in ("not an ISO date", "is after end")
    assert akinon_default.log.requests == 0
    assert not (tmp_path / "w").exists()


def test_window_from_the_data_interval(akinon_default, tmp_path):
    context = {
        "data_interval_start": datetime(2026, 1, 2, tzinfo=UTC),
        "data_interval_end": datetime(2026, 1, 3, tzinfo=UTC),
    }
    op = FetchOrdersOperator(task_id="o", destination=str(tmp_path))
    summary = op.execute(context)
    assert sorted(pks(summary["uri"], "orders")) == akinon_default.data.expected(
        "orders", "created_date", *DAY.values()
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"date_field": "updated_at"}, "date_field='updated_at' is not supported"),
        ({"file_format": "csv"}, "file_format='csv' is not supported"),
        ({"max_concurrency": 0}, "max_concurrency must be an integer >= 1"),
        ({"paging": "cursor"}, "paging='cursor' is not supported"),
        ({"destination": ""}, "is not a path"),
        ({"destination": "nosuchscheme://x/y"}, "cannot be opened as object storage"),
    ],
)
def test_bad_arguments_are_refused_before_any_request(akinon_default, tmp_path, kwargs, match):
    args = {"destination": str(tmp_path), **DAY, **kwargs}
    op = FetchOrdersOperator(task_id="o", **args)
    with pytest.raises(AkinonConfigError, match=match):
        op.execute({})
    assert akinon_default.log.requests == 0


@pytest.mark.parametrize("date_field", ["created_date", "modified_date"])
def test_records_inserted_and_modified_while_paging_are_never_lost_or_duplicated(
    akinon_default, tmp_path, date_field
):
    server = akinon_default
    server.faults.mutate_every = 2
    server.faults.mutations = 40
    summary = export("orders", str(tmp_path), page_size=5, max_concurrency=3, date_field=date_field)
    server.faults.mutate_every = 0
    assert server.log.inserted
    assert server.log.modified
    truth = server.data.expected("orders", date_field, DAY["start"], DAY["end"])
    got = pks(summary["uri"], "orders")
    assert len(got) == len(set(got))
    if date_field == "created_date":
        assert sorted(got) == truth
        return
    # a changes feed: every order in the window when the walk ended is there once; the others left it
    # while it was walked (updated "now"), belong to a later window, and the manifest counts them
    assert set(truth) <= set(got)
    left = set(got) - set(truth)
    assert all(server.data.modified[order - 1] >= server.data.end for order in left)
    assert read_manifest(summary["uri"])["left_window"] == len(left)


def test_plain_page_numbers_would_lose_records_under_the_same_changes(akinon_default, make_hook):
    """The failure mode the keyset walk exists for: page walks skip rows when others leave the window."""
    server = akinon_default
    hook = make_hook(page_size=5)
    query = {"modified_date__gte": DAY["start"], "modified_date__lt": DAY["end"]}
    before = set(server.data.expected("orders", "modified_date", DAY["start"], DAY["end"]))
    server.faults.mutate_every = 2
    server.faults.mutations = 40
    seen = [o["id"] for o in hook.paginate("orders/", query)]
    server.faults.mutate_every = 0
    after = set(server.data.expected("orders", "modified_date", DAY["start"], DAY["end"]))
    stayed = before & after  # in the window before and after the walk: any walk must return them
    assert stayed - set(seen), "page numbers skipped none: the fake server did not move rows"


@pytest.mark.parametrize("resource", ["orders", "order_items", "discount_items"])
def test_faults_during_an_export_change_nothing_in_the_result(akinon_default, tmp_path, resource):
    server = akinon_default
    clean = export(resource, str(tmp_path / "clean"), page_size=10)
    faults = server.faults
    faults.throttle_every, faults.retry_after = 7, "0"
    faults.error_every = 5
    faults.revoke_every = 11
    faulty = export(resource, str(tmp_path / "faulty"), page_size=10)
    assert server.log.faults["429"]
    assert server.log.faults["5xx"]
    assert server.log.faults["revoke"]
    assert list(iter_export_records(faulty["uri"])) == list(iter_export_records(clean["uri"]))
    assert listing(faulty["uri"]) == listing(clean["uri"])


def test_children_from_an_upstream_orders_export_match_it_exactly(akinon_default, tmp_path):
    server = akinon_default
    orders = export("orders", str(tmp_path / "orders"), file_format="parquet", filters={"status": "400"})
    items = FetchOrderItemsOperator(
        task_id="items", destination=str(tmp_path / "items"), orders_from=orders
    ).execute({})
    order_ids = pks(orders["uri"], "orders")
    assert order_ids
    assert all(server.data.status[i - 1] == "400" for i in order_ids)
    assert pks(items["uri"], "order_items") == [pk for oid in order_ids for pk in server.data.item_pks(oid)]
    discounts = FetchDiscountItemsOperator(
        task_id="d", destination=str(tmp_path / "d"), order_ids=[3, 1, 2], file_format="jsonl.gz"
    ).execute({})
    expected = [pk for oid in (3, 1, 2) for pk in server.data.discount_pks(oid)]
    assert pks(discounts["uri"], "discount_items") == expected
    assert read_manifest(discounts["uri"])["window"] is None


def test_window_step_and_concurrency_give_the_same_export(akinon_default, tmp_path):
    server = akinon_default
    whole = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-04T00:00:00Z"}
    one = export("orders", str(tmp_path / "a"), page_size=7, max_concurrency=1, **whole)
    many = export(
        "orders", str(tmp_path / "b"), page_size=7, max_concurrency=6, window_step=timedelta(hours=7), **whole
    )
    assert (
        pks(one["uri"], "orders")
        == pks(many["uri"], "orders")
        == server.data.expected("orders", "created_date", *whole.values())
    )
    assert read_manifest(many["uri"])["records"] == 500


def test_page_paging_fallback(akinon_default, tmp_path):
    summary = export("orders", str(tmp_path), paging="page", page_size=9)
    assert sorted(pks(summary["uri"], "orders")) == akinon_default.data.expected(
        "orders", "created_date", *DAY.values()
    )


def test_a_date_the_records_do_not_carry_is_refused_before_any_walk(akinon_default, tmp_path):
    with pytest.raises(
        ExportConsistencyError, match="ignores the date_placed__gte/__lt filters, and its records"
    ):
        export("oms_order_items", str(tmp_path), date_field="date_placed")
    assert not (tmp_path / "_manifest.json").exists()


def test_an_api_without_keyset_lookups_is_caught_and_page_paging_works(akinon_default, tmp_path):
    akinon_default.api.ignore_params = frozenset({"id__gt", "id__gte", "id__lt"})
    # forced keyset walks are caught by the page checks (auto paging probes first: see test_plan)
    with pytest.raises(
        (ExportConsistencyError, AkinonPageError),  # the id checks, or the paginator's repeated-page check
        match=r"ignores the sort (on id or the id__gt/id__lt lookups|and the id cursor)",
    ):
        export("orders", str(tmp_path / "keyset"), page_size=10, paging="keyset")
    assert not (tmp_path / "keyset" / "_manifest.json").exists()
    summary = export("orders", str(tmp_path / "page"), page_size=10, paging="page")
    assert sorted(pks(summary["uri"], "orders")) == akinon_default.data.expected(
        "orders", "created_date", *DAY.values()
    )


def test_outlets_and_openlineage(akinon_default, tmp_path):
    from airflow_provider_akinon.assets import asset_uri
    from airflow_provider_akinon.compat import Asset

    outlet = Asset(asset_uri("akinon_default", "orders"))
    op = FetchOrdersOperator(task_id="o", destination=str(tmp_path), outlets=[outlet], **DAY)
    op.execute({})
    try:
        lineage = op.get_openlineage_facets_on_complete(None)
    except ImportError:
        pytest.skip("OpenLineage provider not installed")
    assert lineage.inputs[0].namespace.startswith("akinon://127.0.0.1:")
    assert lineage.inputs[0].name == "orders/"
    assert lineage.outputs[0].name == str(tmp_path)


@pytest.mark.skipif(
    not PARTITIONED_EVENTS, reason="keyed asset events reach partitioned DAGs from Airflow 3.3"
)
def test_asset_events_are_keyed_by_day_only_when_asked_so_classic_consumers_keep_running(
    akinon_default, tmp_path
):
    """Airflow 3.3+: with partition_events, one asset event per day of the window (each day's part of the
    window in the extra); a partitioned run keeps its own key. Without it (the default), one event without
    a key, which a DAG scheduled the usual way (schedule=[asset]) runs on: keyed events would silence it."""
    from types import SimpleNamespace

    from airflow.sdk import Asset
    from airflow.sdk.execution_time.context import OutletEventAccessors
    from airflow.sdk.execution_time.task_runner import _serialize_outlet_events

    asset = Asset("akinon://akinon_default/orders")

    def run(dag_run, **kwargs):
        events = OutletEventAccessors()
        op = FetchOrdersOperator(
            task_id="o",
            destination=str(tmp_path / "o"),
            start="2026-01-01T00:00:00Z",
            end="2026-01-03T00:00:00Z",
            outlets=[asset],
            **kwargs,
        )
        op.execute({"outlet_events": events, "dag_run": dag_run})
        return list(_serialize_outlet_events(events))  # what the task runner sends the API server

    classic = run(SimpleNamespace(partition_key=None))
    assert [event.get("partition_key") for event in classic] == [None]
    keyed = run(SimpleNamespace(partition_key=None), partition_events=True)
    assert sorted(event["partition_key"] for event in keyed) == ["2026-01-01", "2026-01-02"]
    for event in keyed:  # each day's own part of the window, in the extra every event carries
        day = event["extra"]["partitions"][event["partition_key"]]
        assert (day["start"][:10], day["end"][:10]) == (
            event["partition_key"],
            f"2026-01-0{int(event['partition_key'][-1]) + 1}",
        )
    own = run(SimpleNamespace(partition_key="2026-01-02T00:00:00"), partition_events=True)
    assert [event.get("partition_key") for event in own] == [None]  # the run's own key marks its events


def test_children_of_an_upstream_export_carry_its_window(akinon_default, tmp_path):
    """Items exported from the orders' summary (their XCom) record the orders' window, so their asset
    events carry the same day partitions as the orders'."""
    orders = export("orders", str(tmp_path / "o"))
    items = FetchOrderItemsOperator(task_id="i", destination=str(tmp_path / "i"), orders_from=orders).execute(
        {}
    )
    assert (
        items["window"]
        == orders["window"]
        == {
            "start": "2026-01-02T00:00:00.000000Z",
            "end": "2026-01-03T00:00:00.000000Z",
        }
    )
    by_uri = FetchOrderItemsOperator(
        task_id="j", destination=str(tmp_path / "j"), orders_from=orders["uri"]
    ).execute({})
    assert by_uri["window"] is None  # a bare URI says nothing of a window
