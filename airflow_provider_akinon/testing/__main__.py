"""Run the fake Akinon server: ``python -m airflow_provider_akinon.testing --orders 1000 --port 8080``."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading

from airflow_provider_akinon.testing.data import AkinonData
from airflow_provider_akinon.testing.server import FakeAkinonServer


def main(argv: list[str] | None = None) -> int:
    """Serve the fake tenant until SIGTERM or Ctrl-C, printing its URL and connection."""
    parser = argparse.ArgumentParser(prog="python -m airflow_provider_akinon.testing", description=__doc__)
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port (printed)")
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--start", default="2026-01-01", help="first day of the data, UTC")
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to each data request")
    parser.add_argument("--warm", action="store_true", help="render all orders before serving")
    parser.add_argument("--max-limit", type=int, default=1000, help="cap of limit (DRF max_page_size)")
    parser.add_argument(
        "--ignore", action="append", default=[], metavar="PARAM", help="a query parameter to ignore silently"
    )
    parser.add_argument("--timestamps", default="Z", help="Z, an offset (+03:00), or naive+03:00")
    parser.add_argument("--default-sort", default="-id", help="the order without sort (DRF: none)")
    args = parser.parse_args(argv)

    data = AkinonData(
        args.orders, start=args.start, days=args.days, seed=args.seed, timestamps=args.timestamps
    )
    server = FakeAkinonServer(data, port=args.port, keep_log=False)
    server.faults.latency = args.latency
    server.api.max_limit = args.max_limit
    server.api.ignore_params = frozenset(args.ignore)
    server.api.default_sort = args.default_sort
    if args.warm:
        server.warm()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with server:
        login, password = next(iter(server.users.items()))
        print(
            f"fake Akinon at {server.url} (login {login!r}, password {password!r}, "
            f"token {server.api_token!r})",
            flush=True,
        )
        print(f"AIRFLOW_CONN_AKINON_DEFAULT='{server.connection_json()}'", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
