"""The probe's questions asked at walk time, alone: an in-memory list of children answers each query."""

from __future__ import annotations

from typing import Any

from airflow_provider_akinon.hooks.paging.records import Page
from airflow_provider_akinon.hooks.probe.questions import probe_batch_lookup

#: children of orders 1-3, their parent in ``order_id`` while the query parameter is ``order``
CHILDREN = [{"pk": pk, "order_id": pk // 10} for pk in (10, 11, 20, 21, 22, 30)]


def children(*, honours_in: bool):
    def get(endpoint: str, query: dict[str, Any]) -> Page:
        if "order" in query:
            rows = [c for c in CHILDREN if c["order_id"] == int(query["order"])]
        elif "order__in" in query and honours_in:
            wanted = {int(v) for v in query["order__in"].split(",")}
            rows = [c for c in CHILDREN if c["order_id"] in wanted]
        else:  # django-filter drops an undeclared lookup: the whole list
            rows = CHILDREN
        return Page(len(rows), None, parsed=rows)

    return get


def test_the_batch_lookup_is_judged_by_the_records_parent_field_not_the_query_parameter():
    honoured = children(honours_in=True)
    assert probe_batch_lookup(honoured, "items/", "order", [1, 2], parent_field="order_id")
    # read by the parameter's name, the records carry no parent: the batch could not be trusted
    assert not probe_batch_lookup(honoured, "items/", "order", [1, 2])


def test_an_ignored_batch_lookup_is_seen_in_the_records():
    assert not probe_batch_lookup(
        children(honours_in=False), "items/", "order", [1, 2], parent_field="order_id"
    )
