"""``python -m airflow_provider_akinon.probe --conn-id akinon_default``: what a tenant's API honours.

The first command to run against a real tenant: it logs in with the connection, asks the orders list
(or ``--endpoint``) what it honours, and whether order items and discount items take ``order__in``,
and prints the answers as a table. Exit status 0 when the API answered, 2 when it could not be asked.
"""

from __future__ import annotations

import argparse
import os
import sys


def table(rows: list[tuple[str, str]]) -> str:
    """Two aligned columns with a rule under the header."""
    width = max(len(question) for question, _ in rows)
    lines = [f"{'question':<{width}}  answer", f"{'-' * width}  {'-' * 40}"]
    lines += [f"{question:<{width}}  {answer}" for question, answer in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Probe the endpoint and print the table; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m airflow_provider_akinon.probe", description=__doc__)
    parser.add_argument(
        "--conn-id", default="akinon_default", help="the akinon connection (default: %(default)s)"
    )
    parser.add_argument("--endpoint", default="orders/", help="the list to probe (default: %(default)s)")
    parser.add_argument(
        "--date-field", default="created_date", help="created_date, modified_date or date_placed"
    )
    args = parser.parse_args(argv)

    # the table is the output (it states what the logs would): Airflow reads this when first imported
    os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "ERROR"
    from airflow_provider_akinon.errors import AkinonError
    from airflow_provider_akinon.exports.estimate import day_estimate
    from airflow_provider_akinon.hooks.akinon import AkinonHook
    from airflow_provider_akinon.resources import DISCOUNT_ITEMS, ORDER_ITEMS, ORDERS, REGISTRY

    hook = AkinonHook(args.conn_id, max_retries=1)  # a person waits on it: fail in seconds, not minutes
    try:
        for known in REGISTRY.values():
            if known.endpoint == args.endpoint:
                known.check_date_field(args.date_field)
        caps = hook.probe(args.endpoint, date_field=args.date_field)
        rows = caps.rows()
        if args.endpoint == ORDERS.endpoint:
            query = {caps.sort_param: caps.sort} if caps.sort else {}
            first = [
                int(o["id"]) for o in hook.get_page(ORDERS.endpoint, {**query, caps.size_param: 2}).parsed
            ]
            for child in (ORDER_ITEMS, DISCOUNT_ITEMS):
                ok = len(first) == 2 and hook.probe_batch_lookup(
                    child.endpoint, child.parent_param or "order", first, child.parent_field
                )
                rows.append((f"{child.name}: {child.parent_param}__in", "honoured" if ok else "IGNORED"))
        resource = next((r for r in REGISTRY.values() if r.endpoint == args.endpoint), None)
        if resource is not None:
            method, requests = day_estimate(hook, resource, args.date_field)
            rows += [("a day exports by", method), ("a day's requests", requests)]
    except AkinonError as err:
        print(f"Could not probe {args.endpoint} with connection {args.conn_id!r}: {err}", file=sys.stderr)
        return 2
    print(f"Akinon API at {hook.host} (connection {args.conn_id!r}), endpoint {args.endpoint}\n")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
