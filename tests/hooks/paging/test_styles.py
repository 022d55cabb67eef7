"""Paging strategies, their registry and the walk loop, alone: an in-memory list answers as a server would."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_akinon.errors import AkinonApiError, AkinonPageError
from airflow_provider_akinon.hooks.paging.records import Page
from airflow_provider_akinon.hooks.paging.styles import (
    PAGINATORS,
    CursorPaginator,
    KeysetPaginator,
    LimitOffsetPaginator,
    PageNumberPaginator,
)
from airflow_provider_akinon.hooks.paging.walker import iter_pages

IDS = list(range(1, 24))  # 23 records: pages of 5 leave a short last page


def page(ids: list[int], count: int | None, next_link: str | None) -> Page:
    return Page(count, next_link, parsed=[{"id": i} for i in ids])


class Server:
    """A list of ``IDS`` answering page numbers, limit/offset, cursors and ``id__gt``, recording queries."""

    def __init__(self, ids: list[int] = IDS, *, cap: int | None = None, ignore: str | None = None) -> None:
        self.ids, self.cap, self.ignore, self.queries = ids, cap, ignore, []

    def __call__(self, endpoint: str, query: dict[str, Any]) -> Page:
        self.queries.append(dict(query))
        size = min(int(query["limit"]), self.cap or 10**9)
        ids = [i for i in self.ids if i > int(query.get("id__gt", 0))]
        if "page" in query and self.ignore != "page":
            start = (int(query["page"]) - 1) * size
            if start >= len(ids) and int(query["page"]) > 1:
                raise AkinonApiError("404", status=404, body='{"detail": "Invalid page."}')
            link = f"http://elsewhere/?page={int(query['page']) + 1}&limit={size}"
        elif "offset" in query:
            start = int(query["offset"])
            link = f"http://elsewhere/?offset={start + size}&limit={size}"
        elif "cursor" in query or "sort" not in query:  # a cursor walk sends no sort of its own
            start = int(query.get("cursor", 0))
            link = f"http://elsewhere/?cursor={start + size}"
        else:
            start, link = 0, "http://elsewhere/?more=1"
        chunk = ids[start : start + size]
        more = start + size < len(ids)
        return page(chunk, len(ids), link if more else None)


def walk(paginator, server: Server, limit: int = 5) -> list[int]:
    return [r["id"] for p in iter_pages(server, "orders/", {}, paginator, limit) for r in p]


@pytest.mark.parametrize(
    "paginator",
    [PageNumberPaginator(), LimitOffsetPaginator(), CursorPaginator(), KeysetPaginator()],
    ids=["page", "offset", "cursor", "keyset"],
)
def test_every_style_walks_the_whole_list_once(paginator):
    server = Server()
    assert walk(paginator, server) == IDS
    assert len(server.queries) == 5
    assert all(q["limit"] == 5 for q in server.queries)


def test_a_size_parameter_other_than_limit_is_sent_by_name():
    query = PageNumberPaginator(size_param="page_size").first({"status": "400"}, 50)
    assert query == {"sort": "id", "status": "400", "page_size": 50, "page": 1}


def test_the_callers_sort_wins_and_the_cursor_keeps_the_views_order():
    assert PageNumberPaginator().first({"sort": "-id"}, 5)["sort"] == "-id"
    assert "sort" not in CursorPaginator().first({}, 5)


def test_next_is_read_for_its_paging_parameter_only_never_its_host():
    current = {"page": 2, "limit": 5}
    following = PageNumberPaginator().following(current, page([1], 9, "http://evil.example/?page=3&token=x"))
    assert following == {"page": 3, "limit": 5}
    # a next link that goes backwards is not followed: the page after the current one is asked
    assert PageNumberPaginator().following(current, page([1], 9, "http://h/?page=1"))["page"] == 3
    assert LimitOffsetPaginator().following({"offset": 5, "limit": 5}, page([1, 2], 9, "http://h/?x=1")) == {
        "offset": 7,
        "limit": 5,
    }


def test_a_walk_ends_on_next_null_or_an_empty_page_not_on_a_short_page():
    server = Server(cap=3)  # the tenant caps the page silently: 3 records for 5 asked
    assert walk(PageNumberPaginator(), server) == IDS
    assert PageNumberPaginator().following({"page": 1}, page([], 0, "http://h/?page=2")) is None


def test_a_404_invalid_page_past_the_last_page_ends_the_walk_and_nothing_else_does():
    paginator = PageNumberPaginator()
    past = AkinonApiError("404", status=404, body='{"detail": "Invalid page."}')
    assert paginator.past_end(past, {"page": 3})
    assert not paginator.past_end(past, {"page": 1})  # the first page missing is an error
    assert not paginator.past_end(AkinonApiError("404", status=404, body="Not found"), {"page": 3})
    assert not LimitOffsetPaginator().past_end(past, {"offset": 10})


def test_a_cursor_link_without_the_cursor_is_an_error_that_quotes_it():
    with pytest.raises(AkinonPageError, match="without a 'cursor' parameter"):
        CursorPaginator().following({}, page([1], None, "http://h/?after=5"))


def test_keyset_follows_the_last_key_and_drops_a_starting_bound():
    paginator = KeysetPaginator(key="pk", lookup="id")
    following = paginator.following(
        {"id__gte": 1, "limit": 2}, Page(None, "x", parsed=[{"pk": 4}, {"pk": 9}])
    )
    assert following == {"limit": 2, "id__gt": 9}
    assert paginator.first({"page": 3}, 2) == {"sort": "id", "limit": 2}


def test_a_page_larger_than_asked_is_refused():
    server = Server()
    with pytest.raises(AkinonPageError, match="answered 10 records to a request for 5"):
        list(iter_pages(lambda e, q: server(e, {**q, "limit": 10}), "orders/", {}, PageNumberPaginator(), 5))


def test_a_server_that_ignores_the_page_parameter_is_caught_on_the_second_page():
    with pytest.raises(AkinonPageError, match="same records as page 1: it ignores the page parameter"):
        walk(PageNumberPaginator(), Server(ignore="page"))


def test_more_pages_than_the_count_fills_end_the_walk_with_an_error():
    def endless(endpoint: str, query: dict[str, Any]) -> Page:
        start = int(query["offset"])  # always a next page, whatever the count says
        return page(list(range(start + 1, start + 6)), 10, f"http://h/?offset={start + 5}")

    with pytest.raises(AkinonPageError, match=r"still links a next page after \d+ pages"):
        list(iter_pages(endless, "orders/", {}, LimitOffsetPaginator(), 5))


@pytest.mark.parametrize(
    ("link", "moved", "style"),
    [
        ("http://h/?cursor=cD0x", {"page": False, "offset": False}, "cursor"),
        ("http://h/?limit=5&offset=5", {"page": False, "offset": True}, "limit_offset"),
        ("http://h/?limit=5&offset=5", {"page": True, "offset": True}, "limit_offset"),
        ("http://h/?page=2", {"page": True, "offset": True}, "page"),
        ("http://h/?page=2", {"page": False, "offset": True}, "limit_offset"),
        ("http://h/?page=2", {"page": False, "offset": False}, None),
        (None, {}, None),  # one page: no style is named
    ],
)
def test_the_registry_names_the_first_style_that_recognises_the_answers(link, moved, style):
    first = page([1, 2], 9, link)
    linked = (
        {"cursor": "cD0x"}
        if link and "cursor" in link
        else {"offset": "5"}
        if link and "offset" in link
        else {}
    )
    found = next((name for name, p in PAGINATORS.items() if p.detects(first, linked, moved)), None)
    assert found == style


def test_each_style_is_built_from_what_the_probe_found():
    class Found:
        sort, sort_param, size_param = "pk", "ordering", "page_size"

    for name, style in PAGINATORS.items():
        paginator = style.of(Found())
        assert paginator.name == name
        assert paginator.first({}, 7)["page_size"] == 7
    assert "ordering" not in PAGINATORS["cursor"].of(Found()).first({}, 7)  # the view's own order
    assert PAGINATORS["page"].of(Found()).first({}, 7)["ordering"] == "pk"


def test_a_page_with_neither_count_nor_next_is_no_end_the_walk_asks_on_or_fails():
    def unknown(endpoint: str, query: dict[str, Any]) -> Page:  # more may follow: the answer does not say how
        return Page(None, None, says_next=False, parsed=[{"id": i} for i in range(1, 6)])

    # page numbers ask for the page after it (which repeats this one: the list ignores page)
    with pytest.raises(AkinonPageError, match="same records as page 1"):
        list(iter_pages(unknown, "orders/", {}, PageNumberPaginator(), 5))
    # a cursor cannot ask for a next page without a link: no evidence of the end, an error
    with pytest.raises(AkinonPageError, match="neither a count nor a next page"):
        list(iter_pages(unknown, "orders/", {}, CursorPaginator(), 5))
    # next: null (Django REST Framework's last page) is the end, short or full
    for ids in ([1, 2], [1, 2, 3, 4, 5]):
        stream = iter_pages(lambda e, q, ids=ids: page(ids, None, None), "o/", {}, PageNumberPaginator(), 5)
        assert len(list(stream)) == 1
        assert stream.end == "marker"


def test_a_short_page_without_an_end_marker_is_a_cap_and_the_walk_goes_on():
    capped = Server(cap=3)

    def silent(endpoint: str, query: dict[str, Any]) -> Page:  # capped at 3, no count, no next field
        answer = capped(endpoint, query)
        return Page(None, None, says_next=False, parsed=answer.parsed)

    stream = iter_pages(silent, "orders/", {}, PageNumberPaginator(), 5)
    assert [r["id"] for p in stream for r in p] == IDS  # every page of 3 for the 5 asked, to the 404
    assert stream.end == "marker"  # the 404 "Invalid page." past the last page
    stream = iter_pages(silent, "orders/", {}, LimitOffsetPaginator(), 5)
    assert [r["id"] for p in stream for r in p] == IDS
    assert stream.end == "empty page"


def test_a_count_reached_ends_a_walk_without_next_links():
    def counted(endpoint: str, query: dict[str, Any]) -> Page:  # a count, no next field (X-Total-Count)
        start = int(query["offset"])
        return Page(len(IDS), None, says_next=False, parsed=[{"id": i} for i in IDS[start : start + 5]])

    stream = iter_pages(counted, "orders/", {}, LimitOffsetPaginator(), 5)
    assert [r["id"] for p in stream for r in p] == IDS
    assert stream.end == "count"


def test_a_keyset_walk_goes_on_past_a_full_page_that_says_nothing_of_what_follows():
    def silent(endpoint: str, query: dict[str, Any]) -> Page:  # no count, no next field: a Link-header API
        ids = [i for i in IDS if i > int(query.get("id__gt", 0))][: int(query["limit"])]
        return Page(None, None, says_next=False, parsed=[{"id": i} for i in ids])

    stream = iter_pages(silent, "orders/", {}, KeysetPaginator(), 5)
    assert [r["id"] for p in stream for r in p] == IDS
    assert stream.end == "empty page"
    # next: null (Django REST Framework's last page) ends it, full or not
    last = iter_pages(lambda e, q: page(IDS[:5], None, None), "orders/", {}, KeysetPaginator(), 5)
    assert len(list(last)) == 1
    assert last.end == "marker"
