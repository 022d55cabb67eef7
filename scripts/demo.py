"""`make demo`: the provider against the bundled fake Akinon server, no network or credentials needed."""

from __future__ import annotations

import os
import time

from airflow_provider_akinon.testing import AkinonData, FakeAkinonServer


def main() -> None:
    with FakeAkinonServer(AkinonData(orders=600, start="2026-01-01", days=3)) as server:
        os.environ["AIRFLOW_CONN_AKINON_DEFAULT"] = server.connection_json()
        from airflow_provider_akinon.hooks.akinon import AkinonHook

        hook = AkinonHook()
        print(f"fake Akinon at {server.url}")
        for day in ("2026-01-01", "2026-01-02", "2026-01-03"):
            started = time.monotonic()
            orders = list(
                hook.iter_orders(
                    created_date__gte=f"{day}T00:00:00Z", created_date__lt=f"{day}T23:59:59.999999Z"
                )
            )
            seconds = time.monotonic() - started
            revenue = sum(float(o["amount"]) for o in orders)
            print(f"{day}: {len(orders):4d} orders, revenue {revenue:12,.2f} TRY, {seconds:.2f}s")
        first = orders[0]
        print(
            f"e.g. order {first['number']} ({first['status']}), {len(list(hook.iter_order_items(first['id'])))} items"
        )


if __name__ == "__main__":
    main()
