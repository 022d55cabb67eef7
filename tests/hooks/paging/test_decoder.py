"""Pages decoded by their envelope: records kept raw, the count and next page read where the envelope says."""

from __future__ import annotations

import orjson
import pytest

from airflow_provider_akinon.errors import NotAPageError, PageShapeError
from airflow_provider_akinon.hooks.paging.decoder import PageDecoder
from airflow_provider_akinon.hooks.paging.envelope import ARRAY, DRF, Envelope
from airflow_provider_akinon.hooks.paging.records import decode_page

RECORDS = [
    {"id": 1, "created_date": "2026-01-01T00:00:00Z"},
    {"id": 2, "created_date": "2026-01-02T00:00:00Z"},
]
ITEMS = Envelope("items", records="items", count="total", next="next_page_token")


def test_each_envelope_reads_its_own_keys():
    drf = PageDecoder("id")(orjson.dumps({"count": 9, "next": "http://x/?page=2", "results": RECORDS}))
    assert (drf.count, drf.next, drf.says_next, drf.keys, drf.envelope) == (
        9,
        "http://x/?page=2",
        True,
        [1, 2],
        DRF,
    )
    items = PageDecoder("id", envelope=ITEMS)(
        orjson.dumps({"total": 9, "next_page_token": None, "items": RECORDS})
    )
    assert (items.count, items.next, items.says_next, items.keys) == (9, None, True, [1, 2])
    array = PageDecoder("id", envelope=ARRAY)(orjson.dumps(RECORDS))
    assert (array.count, array.next, array.says_next, array.bare) == (
        None,
        None,
        False,
        False,
    )  # a page of it
    array.attach(
        {"X-Total-Count": "9", "Link": '<http://x/?page=2>; rel="next", <http://x/?page=1>; rel="prev"'}
    )
    assert (array.count, array.next) == (9, "http://x/?page=2")


@pytest.mark.parametrize("envelope", [DRF, ARRAY])
def test_an_unpaged_list_is_one_whole_page_whatever_envelope_was_probed(envelope):
    page = PageDecoder("id", allow_bare=True, envelope=envelope)(orjson.dumps(RECORDS))
    assert (page.bare, page.count, page.says_next, len(page)) == (True, 2, True, 2)


def test_a_bare_list_where_a_paged_envelope_is_expected_is_refused():
    with pytest.raises(PageShapeError, match="a bare list of 2 records"):
        PageDecoder("id")(orjson.dumps(RECORDS))


def test_records_under_an_unknown_key_are_refused_naming_it_and_a_body_without_records_is_not_a_page():
    with pytest.raises(PageShapeError, match="records are under 'items'"):
        PageDecoder("id")(orjson.dumps({"items": RECORDS}))
    with pytest.raises(NotAPageError, match="no records list"):
        PageDecoder("id")(b'{"detail": "Service is under maintenance"}')
    with pytest.raises(PageShapeError, match="records are under 'items'"):
        decode_page(orjson.dumps({"items": RECORDS}))


def test_a_decoder_of_several_envelopes_keeps_to_the_one_that_fitted():
    decoder = PageDecoder("id", envelope=[DRF, ITEMS, ARRAY])
    assert decoder(orjson.dumps({"items": RECORDS, "next_page_token": "t"})).next == "t"
    assert decoder.envelope is ITEMS  # tried first from now on
    assert decoder(orjson.dumps(RECORDS)).envelope is ARRAY  # a top-level array: the array envelope
    assert decoder(orjson.dumps({"results": RECORDS, "next": None})).envelope is DRF
