"""Window exports against every API variant: each is exact, and none is misdiagnosed."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from airflow_provider_akinon.errors import ExportConsistencyError, WindowError
from airflow_provider_akinon.exports import iter_export_records, read_manifest
from airflow_provider_akinon.operators.akinon import FetchOmsOrderItemsOperator, FetchOrdersOperator
from airflow_provider_akinon.testing.data import parse_ts

DAY = {"start": "2026-01-02T00:00:00Z", "end": "2026-01-03T00:00:00Z"}


def export(destination, resource=FetchOrdersOperator, **kwargs):
    return resource(task_id="export", destination=str(destination), **{**DAY, **kwargs}).execute({})


def ids(summary, key="id"):
    return [record[key] for record in iter_export_records(summary["uri"])]


def truth(server, resource="orders", date_field="created_date"):
    return server.data.expected(resource, date_field, DAY["start"], DAY["end"])


def assert_exact(server, got, manifest, date_field):
    """
    ``created_date``: exactly the window's records. ``modified_date`` (a changes feed): every record in
    the window when the walk ended, once; any other left the window while walked (updated "now", past
    the data) and the manifest counts it.
    """
    expected = truth(server, date_field=date_field)
    if date_field == "created_date" or (manifest.get("left_window", 0) == 0 and sorted(got) == expected):
        assert sorted(got) == expected
        return
    left = set(got) - set(expected)
    assert set(expected) <= set(got)
    assert all(server.data.modified[order - 1] >= server.data.end for order in left)
    assert manifest["left_window"] == len(left)


VARIANTS = {
    "limit capped at 100": lambda s: setattr(s.api, "max_limit", 100),
    "sort ignored": lambda s: setattr(s.api, "ignore_params", frozenset({"sort"})),
    "id lookups ignored": lambda s: setattr(
        s.api, "ignore_params", frozenset({"id__gt", "id__gte", "id__lt"})
    ),
    "timestamps +03:00": lambda s: s.data.set_timestamps("+03:00"),
    "timestamps -05:30": lambda s: s.data.set_timestamps("-05:30"),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("date_field", ["created_date", "modified_date"])
def test_every_variant_exports_exactly_the_window(akinon_default, tmp_path, monkeypatch, variant, date_field):
    server = akinon_default
    VARIANTS[variant](server)
    capped = variant == "limit capped at 100"
    page_size = 250 if capped else 20  # several pages either way
    monkeypatch.setenv("AIRFLOW_CONN_AKINON_DEFAULT", server.connection_json(page_size=page_size))
    server.faults.mutate_every, server.faults.mutations = 3, 10  # and data changing under the walk
    summary = export(tmp_path, date_field=date_field)
    server.faults.mutate_every = 0
    got = ids(summary)
    assert len(got) == len(set(got))
    manifest = read_manifest(summary["uri"])
    assert_exact(server, got, manifest, date_field)
    keyset = variant not in ("sort ignored", "id lookups ignored")
    assert manifest["paging"] == ("keyset" if keyset else "page")
    assert manifest["probe"]["page_size"] == (100 if capped else 20)


def test_naive_local_timestamps_with_the_connection_timezone(akinon_default, tmp_path, monkeypatch):
    server = akinon_default
    server.data.set_timestamps("naive+03:00")
    monkeypatch.setenv("AIRFLOW_CONN_AKINON_DEFAULT", server.connection_json(timezone="Europe/Istanbul"))
    summary = export(tmp_path)
    assert sorted(ids(summary)) == truth(server)
    assert read_manifest(summary["uri"])["probe"]["offset"] == "naive"


def test_naive_timestamps_read_in_the_wrong_zone_say_which_extra_to_set(akinon_default, tmp_path):
    akinon_default.data.set_timestamps("naive+03:00")  # the connection says nothing: read as UTC
    with pytest.raises(
        ExportConsistencyError, match=r"carry no time zone and are read as UTC.*timezone extra"
    ) as err:
        export(tmp_path)
    assert "ignored the" not in str(err.value)
    assert not (tmp_path / "_manifest.json").exists()


def test_window_edges_are_exact_to_the_microsecond_whatever_the_offset(akinon_default, tmp_path):
    server = akinon_default
    server.data.set_timestamps("+03:00")
    start, end = parse_ts(DAY["start"]), parse_ts(DAY["end"])
    inside = [server.data.insert_order(created=start), server.data.insert_order(created=end - 1e-6)]
    outside = [server.data.insert_order(created=start - 1e-6), server.data.insert_order(created=end)]
    got = set(ids(export(tmp_path)))
    assert set(inside) <= got
    assert not set(outside) & got
    assert sorted(got) == truth(server)


def test_an_endpoint_that_ignores_half_the_date_filter_is_still_exact(akinon_default, tmp_path):
    """Only __gte ignored: the window is found another way (tests/exports/test_without_filters.py)."""
    akinon_default.api.ignore_params = frozenset({"created_date__gte"})
    summary = export(tmp_path)
    assert sorted(ids(summary)) == truth(akinon_default)
    assert read_manifest(summary["uri"])["paging"] == "bisect"


@pytest.mark.parametrize("paging", ["keyset", "page"])
def test_window_step_never_writes_two_versions_of_one_record(akinon_default, tmp_path, paging):
    """A record modified mid-export moves to a later sub-window: it is written once, not twice."""
    server = akinon_default
    whole = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-04T00:00:00Z"}
    first_day = server.data.order_ids("modified_date", parse_ts(whole["start"]), parse_ts("2026-01-02"))
    mover = first_day[0]
    original_get = None

    def move_after_first_sub_window(hook):
        nonlocal original_get
        original_get = hook.lists.get_page

        def get(endpoint, params=None, decoder=None):
            # the first query of day 2: day 1 is done; the mover jumps from day 1 to day 3
            if (
                params
                and params.get("modified_date__gte") == "2026-01-02T00:00:00.000000Z"
                and mover not in moved
            ):
                moved.append(mover)
                server.data.modify_order(mover, modified=parse_ts("2026-01-03T12:00:00"))
            return original_get(endpoint, params, decoder)

        hook.lists.get_page = get  # every page of the export is asked through the hook's lists

    moved: list[int] = []
    op = FetchOrdersOperator(
        task_id="o",
        destination=str(tmp_path),
        date_field="modified_date",
        window_step=timedelta(days=1),
        paging=paging,
        page_size=10,
        **whole,
    )
    move_after_first_sub_window(op.hook)
    summary = op.execute({})
    got = ids(summary)
    assert moved == [mover]
    assert got.count(mover) == 1
    assert len(got) == len(set(got))
    manifest = read_manifest(summary["uri"])
    assert manifest["skipped_duplicates"] == 1
    assert manifest["records"] + 1 == manifest["count"]
    assert sorted(got) == sorted(
        set(server.data.expected("orders", "modified_date", *whole.values())) | {mover}
    )


def test_oms_items_follow_the_same_rules(akinon_default, tmp_path):
    server = akinon_default
    server.api.max_limit = 30
    summary = export(tmp_path, resource=FetchOmsOrderItemsOperator, page_size=100)
    assert sorted(ids(summary)) == truth(server, "oms_order_items")


def test_the_manifest_records_what_the_probe_found(akinon_default, tmp_path):
    manifest = read_manifest(export(tmp_path)["uri"])
    assert manifest["paging"] == "keyset"
    probe = manifest["probe"]
    assert probe["endpoint"] == "orders/"
    assert (probe["sort_id"], probe["id_gt"], probe["id_lt"]) == (True, True, True)
    json.dumps(manifest)  # plain JSON


# ---------------------------------------------------------------- exports by id range
@pytest.mark.parametrize("id_range", [{"after_id": 120, "to_id": 180}, (120, 180), "120,180"])
def test_an_id_range_exports_exactly_those_orders_and_their_children(akinon_default, tmp_path, id_range):
    from airflow_provider_akinon.operators.akinon import FetchOrderItemsOperator

    server = akinon_default
    orders = FetchOrdersOperator(
        task_id="o", destination=str(tmp_path / "o"), id_range=id_range, page_size=7
    ).execute({})
    assert ids(orders) == list(range(121, 181))
    manifest = read_manifest(orders["uri"])
    assert manifest["id_range"] == {"after_id": 120, "to_id": 180}
    assert manifest["window"] is None
    assert manifest["source"] == "id_range"
    items = FetchOrderItemsOperator(task_id="i", destination=str(tmp_path / "i"), id_range=id_range).execute(
        {}
    )
    assert ids(items, "pk") == [pk for order in range(121, 181) for pk in server.data.item_pks(order)]


def test_an_id_range_needs_id_lookups_and_says_so(akinon_default, tmp_path):
    akinon_default.api.ignore_params = frozenset({"id__gte", "id__lt", "id__gt"})
    with pytest.raises(
        ExportConsistencyError, match="cannot be exported by id range; export it by date window"
    ):
        FetchOrdersOperator(task_id="o", destination=str(tmp_path), id_range=(1, 50)).execute({})
    assert not (tmp_path / "_manifest.json").exists()


@pytest.mark.parametrize(("id_range", "match"), [((5, 5), "is empty"), ("x,y", "is not an id range")])
def test_a_bad_id_range_is_refused_before_any_request(akinon_default, tmp_path, id_range, match):
    with pytest.raises(WindowError, match=match):
        FetchOrdersOperator(task_id="o", destination=str(tmp_path), id_range=id_range).execute({})
    assert akinon_default.log.requests == 0


def test_an_open_changes_window_is_walked_once_closed_and_one_closing_far_ahead_is_refused(monkeypatch):
    from datetime import UTC, datetime

    from airflow_provider_akinon.exports import export as export_module
    from airflow_provider_akinon.exports.planner import MAX_WAIT_TO_CLOSE, SETTLE, walkable_from
    from airflow_provider_akinon.exports.sources import WindowSource
    from airflow_provider_akinon.resources import ORDERS
    from airflow_provider_akinon.windows import Window

    now = datetime.now(UTC)
    changes = ORDERS.version_field
    closing = WindowSource(Window(now - timedelta(hours=1), now), changes)
    assert walkable_from(closing, ORDERS) == now + SETTLE
    assert walkable_from(WindowSource(Window(now - timedelta(hours=1), now), "created_date"), ORDERS) is None
    far = now + MAX_WAIT_TO_CLOSE + timedelta(minutes=1)
    with pytest.raises(WindowError, match="has not closed yet"):
        walkable_from(WindowSource(Window(now, far), changes), ORDERS)

    waits: list[float] = []
    monkeypatch.setattr(export_module.time, "sleep", waits.append)
    export_module.wait_until(now + timedelta(seconds=30))
    export_module.wait_until(now - timedelta(seconds=1))
    export_module.wait_until(None)
    assert len(waits) == 1
    assert 25 < waits[0] <= 30
