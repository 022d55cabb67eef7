"""Any tenant shape, any window: an export is exact, or refused with a clear error; never short, never doubled.

Hypothesis draws a tenant from the fake server's switches (where the records are, where the count is, how
the next page is given, how pages are selected, a cap below, at or above the page size asked, what a page
past the end answers, a trailing empty page, which filters are ignored, which plug-ins are registered) and a
window, and exports the window. Either the export holds exactly the window's orders, each once, or it fails
with one of the provider's errors, naming the problem, and nothing is published.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from airflow_provider_akinon.errors import AkinonError
from airflow_provider_akinon.exports import iter_export_records, read_manifest
from airflow_provider_akinon.hooks.paging.envelope import ENVELOPES, Envelope
from airflow_provider_akinon.hooks.paging.records import Page
from airflow_provider_akinon.hooks.paging.styles import PAGINATORS, BasePaginator
from airflow_provider_akinon.operators.akinon import FetchOrdersOperator
from airflow_provider_akinon.testing import AkinonData, FakeAkinonServer
from airflow_provider_akinon.testing.variants import ApiVariant

HOUR = 3600
#: Filters a tenant may ignore silently, in the groups django-filter declares them.
IGNORABLE = {
    "sort": {"sort"},
    "ids": {"id__gt", "id__gte", "id__lt"},
    "page": {"page"},
    "offset": {"offset"},
}
ITEMS = Envelope("items", records="items")  # the records under items, count and next as DRF's


class TokenPaginator(BasePaginator):
    """A plug-in: the next page's token in the body (``next_page_token``), sent back as ``page_token``."""

    name = "test_token"
    moves = "the page token"

    @staticmethod
    def detects(first: Page, linked: Mapping[str, str], moved: Mapping[str, bool]) -> bool:
        return first.envelope.next == "next_page_token" and first.next is not None

    def first(self, params: Mapping[str, Any], limit: int) -> dict[str, Any]:
        return self._base(params, limit)

    def following(self, query: dict[str, Any], page: Page) -> dict[str, Any] | None:
        return {**query, "page_token": page.next} if page.next else None


TOKEN_ITEMS = Envelope("test_token_items", records="items", count="count", next="next_page_token")
TOKEN_RESULTS = Envelope("test_token_results", records="results", count="count", next="next_page_token")

tenants = st.fixed_dictionaries(
    {
        "pagination": st.sampled_from(["page", "limit_offset", "cursor"]),
        "envelope": st.sampled_from(["drf", "items", "array"]),
        "count_in": st.sampled_from(["body", "header", "none"]),
        "next_in": st.sampled_from(["body", "header", "token", "none"]),
        "past_end": st.sampled_from(["404", "empty"]),
        "trailing_empty": st.booleans(),
        "max_limit": st.sampled_from([4, 20, 1000]),
        "fixed_page": st.sampled_from([None, None, None, 25]),
        "ignored": st.sets(st.sampled_from(sorted(IGNORABLE)), max_size=3),
    }
)
plugins = st.fixed_dictionaries({"items": st.booleans(), "token": st.booleans()})
asked = st.sampled_from([None, 3, 20, 50])  # the connection's page_size extra (None: the probe's)
windows = st.tuples(st.integers(0, 71), st.integers(1, 30))  # a start hour and a length in hours


@pytest.fixture(scope="module")
def shop():
    """One tenant of 300 orders over three days; each drawn shape switches its API."""
    with FakeAkinonServer(AkinonData(orders=300), keep_log=False) as server:
        yield server


def exported_or_refused(server, destination: Path, tenant, plugin, page_size, window) -> None:
    """Export ``window`` of the tenant as drawn; assert it is exact, or refused cleanly."""
    shape = dict(tenant)
    ignored = set().union(*(IGNORABLE[name] for name in shape.pop("ignored")))
    variant = ApiVariant(**shape, ignore_params=frozenset(ignored))
    for field in dataclasses.fields(ApiVariant):  # the server's lists hold this very object
        setattr(server.api, field.name, getattr(variant, field.name))
    start = server.data.start + window[0] * HOUR
    end = min(server.data.end, start + window[1] * HOUR)
    bounds = {k: datetime.fromtimestamp(v, UTC).isoformat() for k, v in (("start", start), ("end", end))}
    extra = {"max_retries": 1, **({"page_size": page_size} if page_size else {})}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW_CONN_AKINON_DEFAULT", server.connection_json(**extra))
        if plugin["items"]:
            patch.setitem(ENVELOPES, ITEMS.name, ITEMS)
        if plugin["token"]:
            patch.setitem(ENVELOPES, TOKEN_ITEMS.name, TOKEN_ITEMS)
            patch.setitem(ENVELOPES, TOKEN_RESULTS.name, TOKEN_RESULTS)
            patch.setitem(PAGINATORS, TokenPaginator.name, TokenPaginator)
        try:
            summary = FetchOrdersOperator(task_id="o", destination=str(destination), **bounds).execute({})
        except AkinonError as err:  # refused: a clear message, nothing published
            message = str(err)
            assert len(message) > 40, message
            assert "Traceback" not in message, message
            assert not list(destination.rglob("_manifest.json")), message
            return
    got = [record["id"] for record in iter_export_records(summary["uri"])]
    truth = server.data.expected("orders", "created_date", start, end)
    assert len(got) == len(set(got)), "doubled"
    assert sorted(got) == truth, f"short or wrong: {len(got)} of {len(truth)}"
    manifest = read_manifest(summary["uri"])
    assert manifest["records"] == len(truth)
    assert manifest["end"] in ("count", "marker", "empty page") or isinstance(manifest["end"], dict)


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(tenant=tenants, plugin=plugins, page_size=asked, window=windows)
# failing examples found while building it, kept: a capped page with no count and no next (the short
# export of issue 32), and a token under results that no paginator read
@example(
    tenant={
        "pagination": "cursor", "envelope": "drf", "count_in": "none", "next_in": "none", "past_end": "404",
        "trailing_empty": False, "max_limit": 20, "fixed_page": None, "ignored": {"sort"},
    },
    plugin={"items": False, "token": False}, page_size=None, window=(24, 24),
)  # fmt: skip
@example(
    tenant={
        "pagination": "page", "envelope": "drf", "count_in": "none", "next_in": "token", "past_end": "404",
        "trailing_empty": False, "max_limit": 20, "fixed_page": None, "ignored": {"page", "offset", "ids"},
    },
    plugin={"items": False, "token": False}, page_size=None, window=(24, 24),
)  # fmt: skip
def test_every_tenant_shape_exports_exactly_or_is_refused_never_short_or_doubled(
    shop, tmp_path, tenant, plugin, page_size, window
):
    destination = Path(tempfile.mkdtemp(dir=tmp_path))
    exported_or_refused(shop, destination, tenant, plugin, page_size, window)
