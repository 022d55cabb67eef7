"""Orders, order items and discount items, shaped like Akinon's seed pages (the fields an export reads)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class Model(models.Model):
    """A model of this app (an abstract base: no table of its own)."""

    class Meta:
        abstract = True
        app_label = "drf_tenant"


class Dated(Model):
    """Created and last modified, as Akinon's lists date their records (indexed: the lists filter on them)."""

    created_date = models.DateTimeField(default=timezone.now, db_index=True)
    modified_date = models.DateTimeField(auto_now=True, db_index=True)

    class Meta(Model.Meta):
        abstract = True


class Order(Dated):
    number = models.CharField(max_length=32, db_index=True)
    status = models.CharField(max_length=8, default="400")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=8, default="try")
    shipping_address = models.JSONField(default=dict)  # {"city": {"id", "name"}, "line", ...}


class OrderItem(Dated):
    order = models.ForeignKey(Order, related_name="items", on_delete=models.CASCADE)
    price = models.DecimalField(max_digits=12, decimal_places=2)
    status = models.CharField(max_length=8, default="400")
    product = models.JSONField(default=dict)  # Akinon's nested product: sku, attributes, attributes_kwargs


class DeletedItem(Model):
    """What Omnitron's ``deleted_items/`` lists: an object that was deleted, and when."""

    object_id = models.IntegerField()
    content_type_model = models.CharField(max_length=32)
    deleted_date = models.DateTimeField(default=timezone.now, db_index=True)


class DiscountItem(Dated):
    order = models.ForeignKey(Order, related_name="discounts", on_delete=models.CASCADE)
    name = models.CharField(max_length=64)
    amount = models.DecimalField(max_digits=12, decimal_places=2)


class BenefitApplicant(Model):
    """A discount's share of one order item (Omnitron's ``benefitapplicant_set``)."""

    discount_item = models.ForeignKey(
        DiscountItem, related_name="benefitapplicant_set", on_delete=models.CASCADE
    )
    order_item = models.ForeignKey(OrderItem, related_name="+", on_delete=models.CASCADE)
    discount_share = models.DecimalField(max_digits=12, decimal_places=2)


class OrderVersion(Model):
    """Every version of an order the shop wrote (the tests check that each exported record is one)."""

    order_id = models.IntegerField(db_index=True)
    status = models.CharField(max_length=8)
    modified_date = models.DateTimeField()


class Product(Dated):
    """A list no part of the provider knows (the plug-in test declares it): products, typed columns."""

    sku = models.CharField(max_length=32, db_index=True)
    name = models.CharField(max_length=64)
    price = models.DecimalField(max_digits=12, decimal_places=2)


class StockMove(Model):
    """A list no part of the provider knows, keyed as Omnitron keys its items (its serializer names the key
    ``pk``, and so do its lookups) and dated by a field of its own (``moved_at``)."""

    sku = models.CharField(max_length=32)
    quantity = models.IntegerField()
    moved_at = models.DateTimeField(db_index=True)
