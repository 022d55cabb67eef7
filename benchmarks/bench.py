"""`make bench`: this provider vs the wire's limit, a bare requests loop and Airflow's HttpOperator.

Every client runs in its own process (so peak RSS is its own), against the fake Akinon server in another
process, and times only the work itself: ``execute()`` or the loop, not interpreter start-up or imports.
The "floor" client fetches every page of the window on two keep-alive connections and keeps the bytes,
decoding and writing nothing: what this machine and this server allow at best.

Scenarios and targets:
  (a) 200,000 orders, no latency, default settings -> provider within 1.15x the floor's time (the floor
      fetches the pages the provider asks for by default, 1,000 records each),
      peak RSS <= 200 MB, and RSS within 10% between 20,000 and 200,000 orders; the same in Parquet
      within 1.5x of JSON Lines' time. Peak RSS is each process's own high-water mark (VmHWM)
  (b) 20,000 orders, 20 ms per request, max_concurrency 1/4/8 -> at 8, >= 6x the bare loop
  (c) order items of 1,000 orders, 20 ms per request -> one request per order (order__in ignored):
      >= 7x a sequential per-order loop; batched with order__in: >= 20x
  (d) merging 20,000 changed orders into a Delta table of 1,000,000 (benchmarks/table_merge.py):
      seconds and peak RSS, and the same for a rerun
  (f) the same merge into an Apache Iceberg table of 1,000,000 (benchmarks/table_merge.py --format iceberg):
      within 2x of (d)'s time
  (i) the first load of 100,000 and of 1,000,000 exported orders into an empty table, Iceberg current state
      and Delta and Iceberg history: peak RSS under 600 MB and flat as the export grows
  (g) normalising 200,000 detailed order items into typed, nested Parquet, against dlt (benchmarks/normalise.py)
  (h) a year of hourly merges (8,760 commits of ~30 orders, compressed in time; benchmarks/year_of_hours.py)
      into a Delta and an Iceberg table, maintain() daily: the last merge within 2x the tenth, files on
      disk within 2x the live files, the table exact
  (e) a 20,000-order day of a 200,000-order tenant, 20 ms per request, for each tenant shape: the date
      filter honoured (keyset), ignored with id lookups (bisection), without id lookups (newest first),
      nothing but page (a full scan): requests and seconds against the keyset walk

Usage: python benchmarks/bench.py [--quick]   (--quick: 10x smaller, for a smoke run)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from child import peak_rss_mb, report, run_child

WINDOW = ("2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z")
HERE = Path(__file__).resolve()


# ---------------------------------------------------------------------------- clients (child processes)
def first_page_query(limit: int = 100) -> dict:
    """The window query a page-number client starts from (the bare loop and HttpOperator ask 100 a page)."""
    return {
        "created_date__gte": WINDOW[0],
        "created_date__lt": WINDOW[1],
        "sort": "id",
        "limit": limit,
        "page": 1,
    }


#: the floor asks for the pages the provider asks for by default: the largest the fake server allows
FLOOR_LIMIT = 1000
#: (b)'s latency limit is drawn for pages of 100 at 8 in flight: with pages of 1,000 the wire waits less
#: than the records take to decode, and the limit would measure the CPU rather than the requests
LATENCY_PAGE = 100


def login(session, url: str) -> str:
    """The fake server's login, as a user of Akinon's API would call it."""
    body = session.post(f"{url}/api/v1/auth/login/", json={"username": "akinon", "password": "s3cret-Pa55"})
    return body.json()["key"]


def client_floor(url: str, out: Path, **_: object) -> dict:
    """Every page of the window, two keep-alive connections, bytes only: the limit of the wire."""
    import threading

    import urllib3

    pool = urllib3.PoolManager(maxsize=2)
    started = time.perf_counter()
    token = json.loads(
        pool.request(
            "POST", f"{url}/api/v1/auth/login/", json={"username": "akinon", "password": "s3cret-Pa55"}
        ).data
    )["key"]
    headers = {"Authorization": f"Token {token}"}
    first = json.loads(
        pool.request(
            "GET", f"{url}/api/v1/orders/", fields=first_page_query(FLOOR_LIMIT), headers=headers
        ).data
    )
    pages = -(-first["count"] // FLOOR_LIMIT)
    fetched = [1]
    received = [0]

    def fetch(start: int) -> None:
        for page in range(start, pages + 1, 2):
            body = pool.request(
                "GET",
                f"{url}/api/v1/orders/",
                fields={**first_page_query(FLOOR_LIMIT), "page": page},
                headers=headers,
            ).data
            received[0] += len(body)
            fetched[0] += 1

    threads = [threading.Thread(target=fetch, args=(start,)) for start in (2, 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"seconds": time.perf_counter() - started, "records": first["count"], "pages": fetched[0]}


def client_bare(url: str, out: Path, **_: object) -> dict:
    import requests

    session = requests.Session()
    started = time.perf_counter()
    token = login(session, url)
    headers = {"Authorization": f"Token {token}"}
    params = first_page_query()
    records = pages = 0
    with open(out / "orders.jsonl", "w") as handle:
        while True:
            body = session.get(f"{url}/api/v1/orders/", params=params, headers=headers).json()
            pages += 1
            for record in body["results"]:
                handle.write(json.dumps(record) + "\n")
                records += 1
            if not body["next"]:
                break
            params["page"] += 1
    return {"seconds": time.perf_counter() - started, "records": records, "pages": pages}


def client_sequential_items(url: str, out: Path, orders: int, **_: object) -> dict:
    import requests

    session = requests.Session()
    started = time.perf_counter()
    token = login(session, url)
    headers = {"Authorization": f"Token {token}"}
    records = pages = 0
    with open(out / "items.jsonl", "w") as handle:
        for order_id in range(1, orders + 1):
            body = session.get(
                f"{url}/api/v1/order_item/detailed_integration/", params={"order": order_id}, headers=headers
            ).json()
            pages += 1
            for record in body["results"]:
                handle.write(json.dumps(record) + "\n")
                records += 1
    return {"seconds": time.perf_counter() - started, "records": records, "pages": pages}


def client_httpoperator(url: str, out: Path, **_: object) -> dict:
    import requests

    token = login(requests.Session(), url)
    os.environ["AIRFLOW_CONN_HTTP_AKINON"] = json.dumps(
        {"conn_type": "http", "host": url, "extra": {"Authorization": f"Token {token}"}}
    )
    from airflow.providers.http.operators.http import HttpOperator

    params = first_page_query()

    def next_page(response):
        body = response.json()
        if not body["next"]:
            return None
        params["page"] += 1
        return {"data": dict(params)}

    op = HttpOperator(
        task_id="http",
        http_conn_id="http_akinon",
        method="GET",
        endpoint="/api/v1/orders/",
        data=dict(params),
        pagination_function=next_page,
        response_filter=lambda responses: [r.json()["results"] for r in responses],
    )
    started = time.perf_counter()
    pages_of_records = op.execute({})
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "records": sum(len(p) for p in pages_of_records),
        "pages": len(pages_of_records),
    }


def client_provider(
    url: str,
    out: Path,
    concurrency: int,
    resource_name: str = "orders",
    orders: int = 0,
    window: tuple[str, str] = WINDOW,
    file_format: str = "jsonl",
    **_: object,
) -> dict:
    kept = os.environ.get("BENCH_PROBE_CACHE")  # a folder keeping the probe's answers (a kept probe)
    extra: dict = {"probe_cache": f"file://{kept}", "page_size": LATENCY_PAGE} if kept else {}
    os.environ["AIRFLOW_CONN_AKINON_DEFAULT"] = json.dumps(
        {
            "conn_type": "akinon",
            "host": url,
            "login": "akinon",
            "password": "s3cret-Pa55",
            "extra": extra,
        }
    )
    # a task's process has imported its filesystem already; so does the benchmark, before the clock
    from airflow_provider_akinon.exports import destination_path
    from airflow_provider_akinon.operators.akinon import FetchOrderItemsOperator, FetchOrdersOperator

    destination_path(str(out)).fs  # noqa: B018
    from airflow_provider_akinon.hooks.akinon import AkinonHook

    AkinonHook().config  # noqa: B018 - the connection lookup's SDK imports, paid by any task already
    from airflow_provider_akinon.compat import mask_secret

    mask_secret("warm-up")
    if resource_name == "orders":
        op = FetchOrdersOperator(
            task_id="orders",
            destination=str(out / "orders"),
            start=window[0],
            end=window[1],
            max_concurrency=concurrency,
            allow_full_scan=True,
            file_format=file_format,
        )
    else:
        op = FetchOrderItemsOperator(
            task_id="items",
            destination=str(out / "items"),
            order_ids=list(range(1, orders + 1)),
            max_concurrency=concurrency,
        )
    started = time.perf_counter()
    summary = op.execute({})
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "records": summary["records"], "pages": op.hook.stats.requests}


CLIENTS = {
    "floor": client_floor,
    "bare": client_bare,
    "sequential_items": client_sequential_items,
    "httpoperator": client_httpoperator,
    "provider": client_provider,
}


def run_client(args: argparse.Namespace) -> None:
    import logging

    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        result = CLIENTS[args.mode](
            url=args.url,
            out=Path(tmp),
            concurrency=args.concurrency,
            resource_name=args.resource,
            orders=args.orders,
            window=(args.start, args.end),
            file_format=args.format,
        )
    result["rss_mb"] = peak_rss_mb()
    report(result)


# ---------------------------------------------------------------------------- driver
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    def __init__(
        self, orders: int, latency: float, *ignore: str, days: int = 3, default_sort: str = "-id"
    ) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "airflow_provider_akinon.testing",
                "--port",
                str(self.port),
                "--orders",
                str(orders),
                "--days",
                str(days),
                f"--default-sort={default_sort}",
                "--latency",
                str(latency),
                "--warm",
                *(arg for param in ignore for arg in ("--ignore", param)),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline()  # printed once the server listens
        if "fake Akinon" not in line:
            raise RuntimeError(f"fake server did not start: {line}")
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def measure(
    server: Server,
    mode: str,
    concurrency: int = 4,
    resource_name: str = "orders",
    orders: int = 0,
    window: tuple[str, str] = WINDOW,
    file_format: str = "jsonl",
) -> dict:
    result = run_child(
        str(HERE),
        "client",
        *("--mode", mode, "--url", server.url, "--concurrency", str(concurrency)),
        *("--resource", resource_name, "--orders", str(orders), "--start", window[0], "--end", window[1]),
        *("--format", file_format),
        what=mode,
    )
    result["records_per_s"] = result["records"] / result["seconds"]
    result["pages_per_s"] = result["pages"] / result["seconds"]
    return result


def row(label: str, result: dict, baseline: dict | None) -> str:
    ratio = f"{baseline['seconds'] / result['seconds']:.2f}x" if baseline else "1.00x"
    return (
        f"| {label} | {result['records']:,} | {result['seconds']:.2f} | {result['records_per_s']:,.0f} | "
        f"{result['pages_per_s']:,.0f} | {result['rss_mb']:.0f} | {ratio} |"
    )


def shapes(big: int, scale: int) -> list[str]:
    """(e): one day of a tenant 10 times its size, for each shape of tenant, against the keyset walk."""
    print(f"(e) a day of a {big:,}-order tenant without date filters, 20 ms latency ...", flush=True)
    dates = [f"created_date__{op}" for op in ("gte", "gt", "lt", "lte")]
    ids = ["id__gt", "id__gte", "id__lt", "id__lte"]
    day = ("2026-01-08T00:00:00Z", "2026-01-09T00:00:00Z")
    rows, baseline = [], None
    for label, ignore, default_sort in (
        ("the date filter honoured: keyset", [], "-id"),
        ("no date filter: bisection on ids", dates, "-id"),
        ("no date filter, no id lookups: newest first", dates + ids, "-id"),
        ("nothing but page: a full scan", [*dates, *ids, "sort"], "id"),
    ):
        server = Server(big, 0.02, *ignore, days=10, default_sort=default_sort)
        try:
            result = measure(server, "provider", 8, window=day)
        finally:
            server.stop()
        baseline = baseline or result
        rows.append(
            f"| {label} | {result['records']:,} | {result['pages']:,} | {result['seconds']:.2f} | "
            f"{result['seconds'] / baseline['seconds']:.1f}x |"
        )
    return [
        f"\n(e) a {big // 10:,}-order day of a {big:,}-order tenant, 20 ms latency, max_concurrency 8",
        "| tenant | records | requests | seconds | vs keyset |\n|---|---|---|---|---|",
        *rows,
    ]


def table_merge(label: str, arguments: list[str], out: list[str]) -> str:
    """Run benchmarks/table_merge.py with ``arguments``; its table joins ``out``, and is returned."""
    merged = subprocess.run(
        [sys.executable, str(HERE.parent / "table_merge.py"), *arguments],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    text = merged.stdout.rstrip() if merged.returncode == 0 else f"\n{label} failed:\n{merged.stderr[-2000:]}"
    out.append(text)
    return text


def year_of_hours(hours: int, out: list[str]) -> list[tuple[str, bool]]:
    """Run benchmarks/year_of_hours.py; its table joins ``out``, its targets are returned."""
    ran = subprocess.run(
        [sys.executable, str(HERE.parent / "year_of_hours.py"), "--hours", str(hours)],
        capture_output=True,
        text=True,
        timeout=4 * 3600,
    )
    if ran.returncode:
        out.append(f"\n(h) failed:\n{ran.stderr[-2000:]}")
        return [("(h) ran", False)]
    lines = ran.stdout.rstrip().splitlines()
    out += [line for line in lines if not line.startswith("[")]
    return [(line.split("] ", 1)[1], line.startswith("[met]")) for line in lines if line.startswith("[")]


def merge_checks(merges: dict[str, str], loads: str) -> list[tuple[str, bool]]:
    """(f) within 2x of (d)'s time; (i) every first load's peak RSS under 600 MB, and flat (within 25%)
    between the two export sizes."""

    def seconds(table: str) -> float:
        rows = [line for line in table.splitlines() if line.startswith("| changes |")]
        return float(rows[0].split("|")[2]) if rows else float("nan")

    ratio = seconds(merges["(f)"]) / seconds(merges["(d)"])
    peaks: dict[str, list[float]] = {}
    for line in loads.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) == 4 and cells[3].replace(".", "").isdigit():
            peaks.setdefault(cells[0], []).append(float(cells[3]))
    under = bool(peaks) and all(max(values) < 600 for values in peaks.values())
    flat = bool(peaks) and all(max(values) <= 1.25 * min(values) for values in peaks.values())
    shown = "; ".join(
        f"{name}: {' -> '.join(f'{v:.0f}' for v in values)} MB" for name, values in peaks.items()
    )
    return [
        (f"(f) Iceberg merge within 2x of (d) Delta's time ({ratio:.1f}x)", ratio <= 2),
        (f"(i) first loads' peak RSS under 600 MB ({shown})", under),
        ("(i) peak RSS flat (within 25%) from the smaller export to the 10x larger one", flat),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    client = sub.add_parser("client")
    client.add_argument("--mode", required=True, choices=CLIENTS)
    client.add_argument("--url", required=True)
    client.add_argument("--concurrency", type=int, default=4)
    client.add_argument("--resource", default="orders")
    client.add_argument("--orders", type=int, default=0)
    client.add_argument("--start", default=WINDOW[0])
    client.add_argument("--end", default=WINDOW[1])
    client.add_argument("--format", default="jsonl")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.command == "client":
        run_client(args)
        return

    scale = 10 if args.quick else 1
    big, small, fanout = 200_000 // scale, 20_000 // scale, 1_000 // scale
    header = "| client | records | seconds | records/s | pages/s | peak RSS MB | vs baseline |\n|---|---|---|---|---|---|---|"
    out = [
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}"
    ]

    print(f"(a) {big:,} orders, no latency ...", flush=True)
    server = Server(big, 0.0)
    try:
        floor = measure(server, "floor")
        a = {
            "bare": measure(server, "bare"),
            "http": measure(server, "httpoperator"),
            "provider": measure(server, "provider", 4),
            "parquet": measure(server, "provider", 4, file_format="parquet"),
        }
    finally:
        server.stop()
    server = Server(small, 0.0)
    try:
        a_small = measure(server, "provider", 4)
    finally:
        server.stop()
    out += [
        f"\n(a) {big:,} orders, no server latency, default settings (the largest page allowed, 1,000; "
        "max_concurrency 4); baseline: the floor (the same pages; the bare loop and HttpOperator ask 100 a page)",
        header,
        row("floor: 1,000-record pages as bytes, 2 connections", floor, None),
        row("bare requests loop", a["bare"], floor),
        row("HttpOperator + pagination_function", a["http"], floor),
        row("this provider", a["provider"], floor),
        row("this provider, Parquet", a["parquet"], floor),
        row(f"this provider, {small:,} orders", a_small, None),
    ]
    rss_growth = a["provider"]["rss_mb"] / a_small["rss_mb"] - 1
    floor_ratio = a["provider"]["seconds"] / floor["seconds"]

    print(f"(b) {small:,} orders, 20 ms latency ...", flush=True)
    server = Server(small, 0.02)
    try:
        b_bare = measure(server, "bare")
        b = {c: measure(server, "provider", c) for c in (1, 4, 8)}
        with tempfile.TemporaryDirectory() as kept:  # a kept probe: asked by an earlier task of the day
            os.environ["BENCH_PROBE_CACHE"] = kept
            measure(server, "provider", 8)
            b_kept = measure(server, "provider", 8)
            del os.environ["BENCH_PROBE_CACHE"]
        b_http = measure(server, "httpoperator")
    finally:
        server.stop()
    out += [
        f"\n(b) {small:,} orders, 20 ms latency per request; baseline: the bare loop",
        header,
        row("bare requests loop", b_bare, None),
    ]
    out += [row("HttpOperator + pagination_function", b_http, b_bare)]
    out += [row(f"this provider, max_concurrency {c}", r, b_bare) for c, r in b.items()]
    out += [row(f"this provider, max_concurrency 8, pages of {LATENCY_PAGE}, a kept probe", b_kept, b_bare)]
    # the latency limit: the window's pages in rounds of 8 requests at once, 20 ms each, and one login
    limit = (-(-small // LATENCY_PAGE // 8) + 1) * 0.02

    print(f"(c) items of {fanout:,} orders, 20 ms latency ...", flush=True)
    server = Server(fanout, 0.02)
    try:
        c_seq = measure(server, "sequential_items", orders=fanout)
        c_batch = measure(server, "provider", 8, resource_name="order_items", orders=fanout)
    finally:
        server.stop()
    server = Server(fanout, 0.02, "order__in")
    try:
        c_each = measure(server, "provider", 8, resource_name="order_items", orders=fanout)
    finally:
        server.stop()
    out += [f"\n(c) order items of {fanout:,} orders, 20 ms latency; baseline: the sequential loop", header]
    out += [
        row("sequential per-order loop", c_seq, None),
        row("this provider, max_concurrency 8, one request per order", c_each, c_seq),
        row("this provider, max_concurrency 8, order__in batches", c_batch, c_seq),
    ]

    parquet_ratio = a["parquet"]["seconds"] / a["provider"]["seconds"]
    checks = [
        (f"(a) provider within 1.15x the floor's time ({floor_ratio:.2f}x)", floor_ratio <= 1.15),
        (f"(a) Parquet within 1.5x of JSON Lines' time ({parquet_ratio:.2f}x)", parquet_ratio <= 1.5),
        ("(a) provider peak RSS <= 200 MB", a["provider"]["rss_mb"] <= 200),
        (
            f"(a) RSS within 10% between {small:,} and {big:,} orders ({rss_growth:+.1%})",
            abs(rss_growth) <= 0.10,
        ),
        (
            f"(b) concurrency 8 >= 6x bare loop ({b_bare['seconds'] / b[8]['seconds']:.1f}x)",
            b_bare["seconds"] / b[8]["seconds"] >= 6,
        ),
        (
            f"(b) with a kept probe within 1.3x of the latency limit ({b_kept['seconds']:.2f} s against "
            f"{limit:.2f} s: {b_kept['seconds'] / limit:.1f}x)",
            b_kept["seconds"] <= 1.3 * limit,
        ),
        (
            f"(c) one request per order >= 7x sequential loop ({c_seq['seconds'] / c_each['seconds']:.1f}x)",
            c_seq["seconds"] / c_each["seconds"] >= 7,
        ),
        (
            f"(c) order__in batches >= 20x sequential loop ({c_seq['seconds'] / c_batch['seconds']:.1f}x)",
            c_seq["seconds"] / c_batch["seconds"] >= 20,
        ),
    ]
    merges = {}
    for label, table_format in (("(d)", "delta"), ("(f)", "iceberg")):
        print(
            f"{label} {table_format} merge of {20_000 // scale:,} changes into {1_000_000 // scale:,} orders ..."
        )
        arguments = [
            "--format",
            table_format,
            "--rows",
            str(1_000_000 // scale),
            "--changed",
            str(20_000 // scale),
        ]
        merges[label] = table_merge(label, arguments, out)
    print(f"(i) first loads of {100_000 // scale:,} and {1_000_000 // scale:,} orders ...")
    loads = table_merge("(i)", ["--loads", str(100_000 // scale), str(1_000_000 // scale)], out)
    checks += merge_checks(merges, loads)
    print(f"(h) a year of hourly merges ({8_760 // scale:,} commits) into Delta and Iceberg ...", flush=True)
    checks += year_of_hours(8_760 // scale, out)

    out += shapes(big, scale)
    import normalise  # (g): typed, nested Parquet of 200,000 order items, this provider against dlt

    print(f"(g) normalising {200_000 // scale:,} order items, this provider and dlt ...", flush=True)
    normalised, normal_checks = normalise.run(200_000 // scale, 2)
    out += normalised
    checks += normal_checks
    import peers  # the peers a data team would pick instead: dlt, a Singer tap (benchmarks/peers.py)

    peer_lines, peer_checks = peers.run(big, small, a["provider"], a["parquet"], b[8])
    out += peer_lines
    checks += peer_checks
    out.append("\nTargets:")
    out += [f"- {'met' if ok else 'MISSED'}: {label}" for label, ok in checks]
    print("\n".join(out))


if __name__ == "__main__":
    main()
