"""Checks of the operators' arguments, before any request or write: one clear message per mistake."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from airflow_provider_akinon.errors import AkinonConfigError

#: Query parameters the provider sets itself, and what to use instead of passing them as filters.
OWN_PARAMETERS = {
    **dict.fromkeys(("limit", "page_size"), "page_size= (the page size asked for)"),
    **dict.fromkeys(("page", "offset", "cursor"), "nothing: the provider pages through the list itself"),
    **dict.fromkeys(("sort", "ordering"), "nothing: the provider sorts as its walk needs"),
}


def positive_int(name: str, value: Any, *, minimum: int = 1) -> int:
    """``value`` as an integer of at least ``minimum``; a string, float or bool is refused, not guessed."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise AkinonConfigError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return value


def one_of(name: str, value: Any, choices: Iterable[str]) -> str:
    """``value`` if it is one of ``choices``; else an error listing them."""
    choices = tuple(choices)
    if value not in choices:
        raise AkinonConfigError(
            f"{name}={value!r} is not supported; use one of {', '.join(map(repr, choices))}."
        )
    return value


def check_filters(filters: Any, *, date_field: str | None, parent: str | None = None) -> dict[str, Any]:
    """
    ``filters`` as a dict of extra query parameters; refuses the parameters the provider sets itself
    (they would be overridden silently while the manifest recorded them as applied), naming the argument
    to use instead.
    """
    if filters is None:
        return {}
    if not isinstance(filters, dict):
        raise AkinonConfigError(f"filters must be a dict of query parameters, got {filters!r}.")
    for name in filters:
        field = str(name).partition("__")[0]
        instead = OWN_PARAMETERS.get(str(name))
        if date_field and field == date_field:
            instead = "start= and end= (the window)"
        elif field in ("id", "pk"):
            instead = "id_range= (the orders after_id < id <= to_id)"
        elif parent and field == parent:
            instead = "order_ids= or orders_from="
        if instead:
            raise AkinonConfigError(
                f"filters={{{name!r}: ...}} is a parameter the provider sets itself; use {instead} instead."
            )
    return dict(filters)
