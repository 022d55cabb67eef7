"""Akinon resources as data: where they live, their keys, their dates, how they hang off orders.

One :class:`Resource` per exportable list. Operators, exports, the hook's convenience methods and the
Parquet writer read these records instead of repeating paths and field names.
"""

from __future__ import annotations

from dataclasses import dataclass

from airflow_provider_akinon.errors import AkinonConfigError

#: Fields an order window may be cut on; the API takes ``<field>__gte`` / ``<field>__lt``.
DATE_FIELDS = ("created_date", "modified_date", "date_placed")


def check_date_field(date_field: str) -> str:
    """Refuse a ``date_field`` the API cannot filter orders on, naming the ones it can."""
    if date_field not in DATE_FIELDS:
        raise AkinonConfigError(
            f"date_field={date_field!r} is not supported; use one of {', '.join(DATE_FIELDS)}."
        )
    return date_field


@dataclass(frozen=True)
class Resource:
    """
    One Akinon list endpoint.

    :param name: short name, used in paths and logs (``orders``).
    :param endpoint: path relative to the connection's ``api_prefix``, or absolute from the host root.
    :param primary_key: the field that identifies a record (``id`` or ``pk``).
    :param parent_param: for per-order children, the query parameter naming the order (``order``).
    :param decimal_fields: top-level money fields (decimal strings in the API), typed in Parquet.
    :param timestamp_fields: top-level timestamps (``...Z`` strings in the API), typed in Parquet.
    :param string_fields: other top-level scalars worth a typed Parquet column.
    :param integer_fields: other top-level integers worth a typed Parquet column.
    """

    name: str
    endpoint: str
    primary_key: str = "id"
    parent_param: str | None = None
    decimal_fields: tuple[str, ...] = ()
    timestamp_fields: tuple[str, ...] = ()
    string_fields: tuple[str, ...] = ()
    integer_fields: tuple[str, ...] = ()


ORDERS = Resource(
    name="orders",
    endpoint="orders/",
    primary_key="id",
    decimal_fields=(
        "amount",
        "shipping_amount",
        "discount_amount",
        "refund_amount",
        "net_shipping_amount",
        "installment_interest_amount",
    ),
    timestamp_fields=("created_date", "modified_date", "date_placed"),
    string_fields=("number", "status", "currency", "cancel_status"),
)

ORDER_ITEMS = Resource(
    name="order_items",
    endpoint="order_item/detailed_integration/",
    primary_key="pk",
    parent_param="order",
    decimal_fields=("price", "tax_rate", "net_amount", "discount_amount", "retail_price"),
    timestamp_fields=("created_date", "modified_date"),
    string_fields=("status", "price_currency", "cancel_status"),
    integer_fields=("order",),
)

DISCOUNT_ITEMS = Resource(
    name="discount_items",
    endpoint="discount_items/detailed_integration/",
    primary_key="pk",
    parent_param="order",
    decimal_fields=("amount",),
    timestamp_fields=("created_date", "modified_date"),
    string_fields=("name", "offer_type", "code"),
    integer_fields=("order",),
)

OMS_ORDER_ITEMS = Resource(
    name="oms_order_items",
    endpoint="/api/v1/oms/order_items/",
    primary_key="id",
    decimal_fields=("price", "net_amount", "retail_price", "tax_rate", "tax_amount", "discount_amount"),
    timestamp_fields=("created_date", "modified_date"),
    string_fields=("price_currency",),
    integer_fields=("order", "omnitron_id"),
)


def resource_named(name: str) -> Resource:
    """The resource called ``name`` (``orders``, ``order_items``, ...), as manifests name them."""
    for resource in (ORDERS, ORDER_ITEMS, DISCOUNT_ITEMS, OMS_ORDER_ITEMS):
        if resource.name == name:
            return resource
    raise KeyError(f"no Akinon resource is called {name!r}")
