"""Akinon's lists as data: one typed :class:`Resource` per list, registered by name.

A resource is everything the provider needs to know of a list: where it lives, the field that keys its
records and the filter that looks it up, the dates a window may cut, the field every update stamps,
the parent it hangs off (and how its records and queries name that parent), and the columns Parquet
types. Operators, walks, checks, writers and the hook read these instead of repeating names; a new
list is one declaration here (or a ``FetchAkinonListOperator`` argument list).
"""

from __future__ import annotations

from dataclasses import dataclass

from airflow_provider_akinon.errors import AkinonConfigError

#: Dates Akinon's order-like lists carry and filter on (``<field>__gte`` / ``<field>__lt``).
ORDER_DATES = ("created_date", "modified_date", "date_placed")


@dataclass(frozen=True)
class Resource:
    """
    One Akinon list endpoint.

    :param name: short name, used in paths, manifests and logs (``orders``).
    :param endpoint: path relative to the connection's ``api_prefix``, or absolute from the host root.
    :param primary_key: the record field that identifies a record (``id``, or ``pk`` on Omnitron's
        order items and discount items).
    :param lookup: the filter name of the key (``id`` for ``id__gt``): django-filter names model fields.
    :param date_fields: the dates a window may be cut on.
    :param version_field: the date every update stamps "now" (Django's ``auto_now``): windows on it are a
        changes feed, and a Delta table keeps the record with the newest one. ``None``: never updated.
    :param parent: the resource these records hang off (``orders``), fetched by ``parent_param``.
    :param parent_param: the query parameter naming the parent (``order``; ``order__in`` for many).
    :param parent_field: the record field holding the parent's key (``order``).
    :param bare_list: the endpoint answers a plain JSON array, without the paging envelope.
    :param decimal_fields: top-level money fields (decimal strings in the API), typed in Parquet.
    :param timestamp_fields: top-level timestamps, typed in Parquet.
    :param string_fields: other top-level scalars worth a typed Parquet column.
    :param integer_fields: other top-level integers worth a typed Parquet column.
    :param nested_decimal_fields: money inside records, as paths (``benefitapplicant_set[].discount_share``):
        typed as decimals in typed Parquet.
    :param map_fields: names of dicts whose keys are data, not fields (a product's ``attributes``), at any
        depth: typed as ``map<string, ...>`` columns, not a column per key.
    """

    name: str
    endpoint: str
    primary_key: str = "id"
    lookup: str = "id"
    date_fields: tuple[str, ...] = ("created_date", "modified_date")
    version_field: str | None = "modified_date"
    parent: str | None = None
    parent_param: str | None = None
    parent_field: str | None = None
    bare_list: bool = False
    decimal_fields: tuple[str, ...] = ()
    timestamp_fields: tuple[str, ...] = ()
    string_fields: tuple[str, ...] = ()
    integer_fields: tuple[str, ...] = ()
    map_fields: tuple[str, ...] = ("attributes", "attributes_kwargs", "extra_field")
    nested_decimal_fields: tuple[str, ...] = ()

    def check_date_field(self, date_field: str) -> str:
        """Refuse a ``date_field`` this list cannot be cut on, naming the ones it can."""
        if date_field not in self.date_fields:
            raise AkinonConfigError(
                f"date_field={date_field!r} is not supported by {self.name}; use one of "
                f"{', '.join(self.date_fields)}."
            )
        return date_field


REGISTRY: dict[str, Resource] = {}


def register(resource: Resource) -> Resource:
    """Add ``resource`` to the registry (manifests name it; the reader and the Delta merge look it up)."""
    REGISTRY[resource.name] = resource
    return resource


def resource_named(name: str) -> Resource:
    """The registered resource called ``name`` (``orders``, ``order_items``, ...)."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise AkinonConfigError(
            f"no Akinon list is registered as {name!r}; known: {', '.join(sorted(REGISTRY))}."
        ) from None


ORDERS = register(
    Resource(
        name="orders",
        endpoint="orders/",
        date_fields=ORDER_DATES,
        decimal_fields=(
            "amount",
            "shipping_amount",
            "discount_amount",
            "refund_amount",
            "net_shipping_amount",
            "installment_interest_amount",
        ),
        timestamp_fields=ORDER_DATES,
        string_fields=("number", "status", "currency", "cancel_status"),
    )
)


def order_child(
    name: str, endpoint: str, *, decimal_fields: tuple[str, ...], string_fields: tuple[str, ...]
) -> Resource:
    """
    A list of orders' children: keyed by ``pk``, each naming its order in ``order``, listed by order
    (``?order=``) and dated by its ``created_date`` and ``modified_date``.

    :param decimal_fields: its columns typed as decimals.
    :param string_fields: its columns typed as strings.
    """
    return Resource(
        name=name,
        endpoint=endpoint,
        primary_key="pk",
        parent=ORDERS.name,
        parent_param="order",
        parent_field="order",
        timestamp_fields=("created_date", "modified_date"),
        integer_fields=("order",),
        decimal_fields=decimal_fields,
        string_fields=string_fields,
        nested_decimal_fields=("benefitapplicant_set[].discount_share",),  # both lists carry the shares
    )


ORDER_ITEMS = register(
    order_child(
        "order_items",
        "order_item/detailed_integration/",
        decimal_fields=("price", "tax_rate", "net_amount", "discount_amount", "retail_price"),
        string_fields=("status", "price_currency", "cancel_status"),
    )
)
DISCOUNT_ITEMS = register(
    order_child(
        "discount_items",
        "discount_items/detailed_integration/",
        decimal_fields=("amount",),
        string_fields=("name", "offer_type", "code"),
    )
)

OMS_ORDER_ITEMS = register(
    Resource(
        name="oms_order_items",
        endpoint="/api/v1/oms/order_items/",
        date_fields=ORDER_DATES,
        decimal_fields=("price", "net_amount", "retail_price", "tax_rate", "tax_amount", "discount_amount"),
        timestamp_fields=("created_date", "modified_date"),
        string_fields=("price_currency",),
        integer_fields=("order", "omnitron_id"),
    )
)

# ---------------------------------------------------------------------------------------------------
# The order-adjacent lists Akinon documents (../shared/notes/akinon-api.md has their pages).

CANCELLATION_REQUESTS = register(
    Resource(
        name="cancellation_requests",
        endpoint="cancellation_requests/",
        timestamp_fields=("created_date", "modified_date"),
        string_fields=("status", "cancellation_type"),
        integer_fields=("order_item",),
    )
)

OMS_ORDERS = register(  # items embedded in orderitem_set; state an object with enum_value
    Resource(
        name="oms_orders",
        endpoint="/api/v1/oms/orders/",
        decimal_fields=("amount",),
        timestamp_fields=("created_date", "modified_date"),
        string_fields=("number",),
    )
)

OMS_PACKAGES = register(
    Resource(
        name="oms_packages",
        endpoint="/api/v1/oms/packages/",
        timestamp_fields=("created_date", "modified_date"),
        integer_fields=("order",),
    )
)

DELETED_ITEMS = register(  # a plain JSON array, without the paging envelope
    Resource(
        name="deleted_items",
        endpoint="deleted_items/",
        date_fields=("deleted_date",),
        version_field=None,
        bare_list=True,
        timestamp_fields=("deleted_date",),
        string_fields=("content_type_model",),
        integer_fields=("object_id",),
    )
)
