"""Serializers, filtersets, views and URLs of the test tenant: DRF's and django-filter's stock classes."""

from __future__ import annotations

import django_filters
from django.conf import settings
from django.urls import path
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import generics, pagination, serializers
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.filters import OrderingFilter
from rest_framework.response import Response
from rest_framework.views import APIView

from tests.drf_tenant.models import (
    BenefitApplicant,
    DeletedItem,
    DiscountItem,
    Order,
    OrderItem,
    Product,
    StockMove,
)

SWITCHES = settings.SWITCHES
DRIFT_FROM = settings.DRIFT_FROM
LOOKUPS = ["gt", "gte", "lt", "lte"]


class Pages(pagination.PageNumberPagination):
    """Akinon's paging: ``page`` and ``limit`` (or ``page_size``, or none at all), capped."""

    page_size_query_param = (
        None if "fixed_page" in SWITCHES else "page_size" if "page_size_param" in SWITCHES else "limit"
    )
    max_page_size = 500


class Offsets(pagination.LimitOffsetPagination):
    max_limit = 500


class Cursor(pagination.CursorPagination):
    ordering = "id"
    page_size_query_param = "limit"
    max_page_size = 500


PAGING = {"limit_offset": Offsets, "cursor": Cursor}
PAGINATION_CLASS = next((cls for name, cls in PAGING.items() if name in SWITCHES), Pages)


def lookups(*dates: str, parent: str | None = None) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    if "no_id_lookups" not in SWITCHES:
        fields["id"] = LOOKUPS
    if "no_date_lookups" not in SWITCHES and "date_only" not in SWITCHES:
        fields |= dict.fromkeys(dates, LOOKUPS)
    if parent:
        fields[parent] = ["exact", "in"]
    return fields


class DayFilters(django_filters.FilterSet):
    """Date filters that take days (``YYYY-MM-DD``), as Akinon's Data Warehouse API documents."""

    created_date__gte = django_filters.DateFilter(field_name="created_date", lookup_expr="date__gte")
    created_date__lt = django_filters.DateFilter(field_name="created_date", lookup_expr="date__lt")
    modified_date__gte = django_filters.DateFilter(field_name="modified_date", lookup_expr="date__gte")
    modified_date__lt = django_filters.DateFilter(field_name="modified_date", lookup_expr="date__lt")


def filterset(model_class, parent: str | None = None):
    base = DayFilters if "date_only" in SWITCHES else django_filters.FilterSet
    meta = type(
        "Meta", (), {"model": model_class, "fields": lookups("created_date", "modified_date", parent=parent)}
    )
    return type(f"{model_class.__name__}Filter", (base,), {"Meta": meta})


class OrderSerializer(serializers.ModelSerializer):
    class Meta:
        model = Order
        fields = [
            "id", "number", "status", "amount", "currency", "shipping_address", "created_date", "modified_date",
        ]  # fmt: skip


class OrderItemSerializer(serializers.ModelSerializer):
    pk = serializers.IntegerField(read_only=True)  # Omnitron names the key of order items pk
    shipping_company = serializers.SerializerMethodField()

    class Meta:
        model = OrderItem
        fields = [
            "pk",
            "order",
            "price",
            "status",
            "product",
            "shipping_company",
            "created_date",
            "modified_date",
        ]

    def get_shipping_company(self, item: OrderItem) -> str:
        return "yurtici"

    def to_representation(self, item: OrderItem) -> dict:
        """With ``DRF_TENANT_DRIFT_FROM=N``, items from ``pk`` N on come from an upgraded tenant: a new field
        (``gift_note``) and ``shipping_company`` a number (an id) where it was a name."""
        data = super().to_representation(item)
        if DRIFT_FROM is not None and item.pk >= DRIFT_FROM:
            data["gift_note"] = {"text": "Mutlu yıllar", "from": "Ayşe"}
            data["shipping_company"] = 3
        return data


class BenefitApplicantSerializer(serializers.ModelSerializer):
    class Meta:
        model = BenefitApplicant
        fields = ["id", "discount_share", "discount_item", "order_item"]


class DiscountItemSerializer(serializers.ModelSerializer):
    pk = serializers.IntegerField(read_only=True)
    benefitapplicant_set = BenefitApplicantSerializer(many=True, read_only=True)  # DRF's nested serializer

    class Meta:
        model = DiscountItem
        fields = ["pk", "order", "name", "amount", "benefitapplicant_set", "created_date", "modified_date"]


class ProductSerializer(serializers.ModelSerializer):
    class Meta:
        model = Product
        fields = ["id", "sku", "name", "price", "created_date", "modified_date"]


class StockMoveSerializer(serializers.ModelSerializer):
    pk = serializers.IntegerField(read_only=True)

    class Meta:
        model = StockMove
        fields = ["pk", "sku", "quantity", "moved_at"]


class StockMoveFilter(django_filters.FilterSet):
    """The key's lookups by the name its serializer gives it (``pk__gt``; ``id__gt`` is not declared, so
    ignored), and its own date's."""

    pk__gt = django_filters.NumberFilter(field_name="pk", lookup_expr="gt")
    pk__gte = django_filters.NumberFilter(field_name="pk", lookup_expr="gte")
    pk__lt = django_filters.NumberFilter(field_name="pk", lookup_expr="lt")
    pk__lte = django_filters.NumberFilter(field_name="pk", lookup_expr="lte")

    class Meta:
        model = StockMove
        fields = {"moved_at": LOOKUPS}


class DeletedItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeletedItem
        fields = ["id", "object_id", "content_type_model", "deleted_date"]


class DeletedItems(generics.ListAPIView):
    """``deleted_items/``: DRF without a pagination class answers a plain array, as Omnitron documents."""

    queryset = DeletedItem.objects.all()
    serializer_class = DeletedItemSerializer
    pagination_class = None
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_fields = {"id": LOOKUPS, "deleted_date": LOOKUPS}


class Listing(generics.ListAPIView):
    pagination_class = PAGINATION_CLASS
    filter_backends = [DjangoFilterBackend] + ([] if "no_ordering" in SWITCHES else [OrderingFilter])


def listing(model_class, serializer_class, parent: str | None = None):
    return type(
        f"{model_class.__name__}List",
        (Listing,),
        {
            # a default order where DRF has none: Akinon's lists show newest first
            "queryset": model_class.objects.order_by("-id")
            if "newest_first" in SWITCHES
            else model_class.objects.all(),
            "serializer_class": serializer_class,
            "filterset_class": filterset(model_class, parent),
        },
    ).as_view()


class Login(APIView):
    """``POST auth/login/`` with ``{"username", "password"}`` answers ``{"key": token}``, as Akinon's does."""

    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []

    def post(self, request):
        serializer = AuthTokenSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        token, _ = Token.objects.get_or_create(user=serializer.validated_data["user"])
        return Response({"key": token.key})


urlpatterns = [
    path("api/v1/auth/login/", Login.as_view()),
    path("api/v1/orders/", listing(Order, OrderSerializer)),
    path("api/v1/order_item/detailed_integration/", listing(OrderItem, OrderItemSerializer, "order")),
    path(
        "api/v1/discount_items/detailed_integration/", listing(DiscountItem, DiscountItemSerializer, "order")
    ),
    path("api/v1/deleted_items/", DeletedItems.as_view()),
    path("api/v1/products/", listing(Product, ProductSerializer)),
    path(
        "api/v1/stock_moves/",
        type(
            "StockMoveList",
            (Listing,),
            {
                "queryset": StockMove.objects.all(),
                "serializer_class": StockMoveSerializer,
                "filterset_class": StockMoveFilter,
            },
        ).as_view(),
    ),
]
