"""`make bench` peers: a Singer tap built with Meltano's SDK (``singer-sdk``), piped to a JSON Lines target.

Runs in the peers' venv (``.venv/peers``). One file, three roles:

- ``run`` (what benchmarks/peers.py starts): starts the target, then the tap with its standard output
  piped into the target's standard input, as ``tap | target`` does; waits for both; reads the ids the
  target wrote; prints ``RESULT {json}`` (benchmarks/child.py's ``report``). Seconds: from the tap's
  ``sync_all()`` (the tap built and its config checked, imports done) to the target's last record
  written and its file closed. Peak RSS: each process's own high-water mark (VmHWM): the tap's, and
  the target's as a child.
- ``tap``: ``TapAkinon``, the SDK's ``RESTStream`` as its docs build one for a Django REST Framework
  list: ``$.results[*]`` for the records, a HATEOAS paginator on ``next``, an ``APIKeyAuthenticator``
  holding ``Authorization: Token <key>`` from a login, the replication key ``created_date`` (the window's
  start is the replication key's starting value, ``start_date``; its end ``end_date``), 1,000 records a
  page (what this provider asks by default), ``sort=id``.
- ``target``: a minimal Singer target: every RECORD message's record as one JSON line of a file.

Usage: python singer_tap.py run --url URL [--start ...] [--end ...]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/child.py (stdlib only)
from child import peak_rss_mb, report

WINDOW = ("2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z")
LIMIT = 1000


# ---------------------------------------------------------------------------- the tap
def tap_classes():
    """The tap's classes (singer-sdk is imported only in the tap's own process)."""
    from urllib.parse import parse_qsl

    import requests
    from singer_sdk import RESTStream, Tap
    from singer_sdk import typing as th
    from singer_sdk.authenticators import APIKeyAuthenticator
    from singer_sdk.pagination import BaseHATEOASPaginator

    nested = th.ObjectType(additional_properties=True)
    money, text, when, number = th.StringType, th.StringType, th.DateTimeType, th.IntegerType
    schema = th.PropertiesList(
        th.Property("id", number, required=True),
        th.Property("number", text),
        th.Property("status", text),
        th.Property("date_placed", when),
        th.Property("created_date", when),
        th.Property("modified_date", when),
        th.Property("customer", nested),
        th.Property("shipping_address", nested),
        th.Property("billing_address", nested),
        th.Property("currency", text),
        th.Property("amount", money),
        th.Property("shipping_amount", money),
        th.Property("shipping_tax_rate", money),
        th.Property("extra_field", nested),
        th.Property("payment_option", number),
        th.Property("payment_option_slug", text),
        th.Property("bin_number", text),
        th.Property("installment", number),
        th.Property("installment_count", number),
        th.Property("installment_interest_amount", money),
        th.Property("cargo_company", number),
        th.Property("invoice_number", text),
        th.Property("invoice_date", when),
        th.Property("e_archive_url", text),
        th.Property("refund_amount", money),
        th.Property("discount_refund_amount", money),
        th.Property("shipping_refund_amount", money),
        th.Property("discount_amount", money),
        th.Property("is_send", th.BooleanType),
        th.Property("net_shipping_amount", money),
        th.Property("shipping_interest_amount", money),
        th.Property("tracking_number", text),
        th.Property("carrier_shipping_code", text),
        th.Property("remote_addr", text),
        th.Property("has_gift_box", th.BooleanType),
        th.Property("gift_box_note", text),
        th.Property("external_status", text),
        th.Property("cancel_status", text),
    ).to_dict()

    class NextLinkPaginator(BaseHATEOASPaginator):
        """DRF's ``next`` link (the SDK's HATEOAS paginator)."""

        def get_next_url(self, response):
            return response.json().get("next")

    class OrdersStream(RESTStream):
        """Akinon's ``orders/`` list over the window, sorted by id (so by ``created_date``)."""

        name = "orders"
        path = "/api/v1/orders/"
        primary_keys = ("id",)
        replication_key = "created_date"
        is_sorted = True
        records_jsonpath = "$.results[*]"
        requests_made = 0

        @property
        def url_base(self) -> str:
            return self.config["api_url"]

        @property
        def authenticator(self):
            if not hasattr(self, "_auth"):
                key = requests.post(
                    f"{self.url_base}/api/v1/auth/login/",
                    json={"username": self.config["username"], "password": self.config["password"]},
                    timeout=60,
                ).json()["key"]
                self._auth = APIKeyAuthenticator(key="Authorization", value=f"Token {key}", location="header")
            return self._auth

        def get_new_paginator(self):
            return NextLinkPaginator()

        def get_url_params(self, context, next_page_token):
            if next_page_token:
                return dict(parse_qsl(next_page_token.query))
            return {
                "created_date__gte": self.get_starting_replication_key_value(context),
                "created_date__lt": self.config["end_date"],
                "sort": "id",
                "limit": self.config["page_size"],
            }

        def parse_response(self, response):
            OrdersStream.requests_made += 1
            yield from super().parse_response(response)

    OrdersStream.schema = schema

    class TapAkinon(Tap):
        """Akinon's orders as a Singer tap."""

        name = "tap-akinon"
        config_jsonschema = th.PropertiesList(
            th.Property("api_url", th.StringType, required=True),
            th.Property("username", th.StringType, required=True),
            th.Property("password", th.StringType, required=True, secret=True),
            th.Property("start_date", th.DateTimeType, required=True),
            th.Property("end_date", th.DateTimeType, required=True),
            th.Property("page_size", th.IntegerType, default=LIMIT),
        ).to_dict()

        def discover_streams(self):
            return [OrdersStream(tap=self)]

    return TapAkinon, OrdersStream


def run_tap(config: Path, stats: Path) -> None:
    import logging

    logging.disable(logging.WARNING)  # the SDK's INFO metrics lines go to stderr; keep them short
    tap_class, stream = tap_classes()
    tap = tap_class(config=str(config))
    started = time.time()
    tap.sync_all()
    sys.stdout.flush()
    stats.write_text(json.dumps({"started": started, "rss_mb": peak_rss_mb(), "pages": stream.requests_made}))


# ---------------------------------------------------------------------------- the target
def run_target(out: Path, stats: Path) -> None:
    try:
        import orjson

        loads, dumps = orjson.loads, orjson.dumps
    except ImportError:  # pragma: no cover
        loads, dumps = json.loads, lambda v: json.dumps(v).encode()
    records = 0
    with open(out, "wb") as handle:
        for line in sys.stdin.buffer:
            message = loads(line)
            if message.get("type") == "RECORD":
                handle.write(dumps(message["record"]) + b"\n")
                records += 1
    stats.write_text(json.dumps({"finished": time.time(), "rss_mb": peak_rss_mb(), "records": records}))


# ---------------------------------------------------------------------------- tap | target
def run_pipe(args: argparse.Namespace, tmp: Path) -> dict:
    import importlib.util

    if importlib.util.find_spec("singer_sdk") is None:
        raise SystemExit("singer-sdk is not installed in the peers' venv: it did not install (make bench)")
    config = tmp / "config.json"
    config.write_text(
        json.dumps(
            {
                "api_url": args.url,
                "username": "akinon",
                "password": "s3cret-Pa55",
                "start_date": args.start,
                "end_date": args.end,
                "page_size": LIMIT,
            }
        )
    )
    me = [sys.executable, str(Path(__file__).resolve())]
    out, tap_stats, target_stats = tmp / "orders.jsonl", tmp / "tap.json", tmp / "target.json"
    with open(tmp / "tap.log", "wb") as log:
        target = subprocess.Popen(
            [*me, "target", "--out", str(out), "--stats", str(target_stats)], stdin=subprocess.PIPE
        )
        tap = subprocess.Popen(
            [*me, "tap", "--config", str(config), "--stats", str(tap_stats)], stdout=target.stdin, stderr=log
        )
        target.stdin.close()
        tap_code, target_code = tap.wait(timeout=1800), target.wait(timeout=1800)
    if tap_code or target_code:
        raise SystemExit(
            f"tap exited {tap_code}, target {target_code}:\n{(tmp / 'tap.log').read_text()[-3000:]}"
        )
    tapped, targeted = json.loads(tap_stats.read_text()), json.loads(target_stats.read_text())
    with open(out, "rb") as handle:
        ids = [json.loads(line)["id"] for line in handle if line.strip()]
    return {
        "seconds": targeted["finished"] - tapped["started"],
        "records": len(ids),
        "pages": tapped["pages"],
        "rss_mb": tapped["rss_mb"],
        "children_rss_mb": [targeted["rss_mb"]],
        "ids": ids,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="role", required=True)
    run = sub.add_parser("run")
    run.add_argument("--url", required=True)
    run.add_argument("--start", default=WINDOW[0])
    run.add_argument("--end", default=WINDOW[1])
    tap = sub.add_parser("tap")
    tap.add_argument("--config", type=Path, required=True)
    tap.add_argument("--stats", type=Path, required=True)
    target = sub.add_parser("target")
    target.add_argument("--out", type=Path, required=True)
    target.add_argument("--stats", type=Path, required=True)
    args = parser.parse_args()
    if args.role == "tap":
        run_tap(args.config, args.stats)
    elif args.role == "target":
        run_target(args.out, args.stats)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            report(run_pipe(args, Path(tmp)))


if __name__ == "__main__":
    main()
