"""``python -m airflow_provider_akinon.probe --conn-id akinon_default``: what a tenant's API honours.

The first command to run against a real tenant: it logs in with the connection, asks the orders list
(or ``--endpoint``) what it honours, and whether order items and discount items take ``order__in``,
and prints the answers as a table. Exit status 0 when the API answered, 2 when it could not be asked.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from airflow_provider_akinon.quiet import quiet_airflow


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
    parser.add_argument(
        "--resource", help="a registered list (orders, or one a plug-in registers): its endpoint, key, date"
    )
    parser.add_argument("--endpoint", help="the list to probe (default: orders/, or the resource's)")
    parser.add_argument(
        "--date-field", help="the date a window cuts (default: created_date, or the resource's)"
    )
    parser.add_argument("--key", help="the field keying its records (default: id, or the resource's)")
    parser.add_argument(
        "--lookup", help="the key's filter name, <lookup>__gt (default: the resource's, or the key)"
    )
    args = parser.parse_args(argv)

    # the table is the output (it states what the logs would): Airflow reads the level when first imported
    with quiet_airflow():
        return _probe(args)


def _probe(args: argparse.Namespace) -> int:
    """Probe what the command was asked about and print the table; return the exit status."""
    from airflow_provider_akinon.errors import AkinonError
    from airflow_provider_akinon.exports.estimate import day_estimate
    from airflow_provider_akinon.hooks.akinon import AkinonHook
    from airflow_provider_akinon.resources import (
        DISCOUNT_ITEMS,
        ORDER_ITEMS,
        ORDERS,
    )

    hook = AkinonHook(args.conn_id, max_retries=1)  # a person waits on it: fail in seconds, not minutes
    endpoint = args.endpoint or ORDERS.endpoint
    try:
        resource, endpoint, date_field, key, lookup = _question(args)
        caps = hook.probe(endpoint, date_field=date_field, key=key, lookup=lookup)
        rows = caps.rows()
        if endpoint == ORDERS.endpoint:
            query = {caps.sort_param: caps.sort} if caps.sort else {}
            first = [int(o["id"]) for o in hook.get_page(endpoint, {**query, caps.size_param: 2}).parsed]
            for child in (ORDER_ITEMS, DISCOUNT_ITEMS):
                rows.append((f"{child.name}: {child.parent_param}__in", _batched(hook, child, first)))
        if resource is not None and resource.endpoint == endpoint:
            method, requests = day_estimate(hook, resource, date_field)
            rows += [("a day exports by", method), ("a day's requests", requests)]
    except AkinonError as err:
        print(f"Could not probe {endpoint} with connection {args.conn_id!r}: {err}", file=sys.stderr)
        return 2
    print(f"Akinon API at {hook.host} (connection {args.conn_id!r}), endpoint {endpoint}\n")
    print(table(rows))
    return 0


def _question(args: argparse.Namespace) -> tuple[Any, str, str, str, str]:
    """The resource asked about (``None``: an endpoint no resource names), its endpoint, date field, key and lookup."""
    from airflow_provider_akinon.resources import ORDERS, REGISTRY, resource_named

    endpoint = args.endpoint or ORDERS.endpoint
    resource = resource_named(args.resource) if args.resource else None
    resource = resource or next((r for r in REGISTRY.values() if r.endpoint == endpoint), None)
    endpoint = args.endpoint or (resource.endpoint if resource else endpoint)
    date_field = args.date_field or (resource.date_fields[0] if resource else "created_date")
    if resource is not None:
        resource.check_date_field(date_field)
    key = args.key or (resource.primary_key if resource else "id")
    lookup = args.lookup or (resource.lookup if resource and not args.key else key)
    return resource, endpoint, date_field, key, lookup


def _batched(hook: Any, child: Any, first: list[int]) -> str:
    """Whether a child list takes ``order__in``: ``honoured``, ``IGNORED``, or ``absent`` (it answers 404)."""
    from airflow_provider_akinon.errors import AkinonApiError

    if len(first) < 2:
        return "cannot tell (fewer than two orders)"
    try:
        ok = hook.probe_batch_lookup(child.endpoint, child.parent_param or "order", first, child.parent_field)
    except AkinonApiError as err:
        if err.status == 404:
            return f"absent ({child.endpoint} answers 404)"
        raise
    return "honoured" if ok else "IGNORED"


if __name__ == "__main__":
    sys.exit(main())
