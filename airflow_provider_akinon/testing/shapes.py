"""Record shapes of the fake tenant, as Akinon's documentation shows them (see the seed pages).

Orders, order items, discount items and OMS order items, each a pure function of the tenant's seed, the
record's id and the few mutable columns :class:`~airflow_provider_akinon.testing.data.AkinonData` keeps.
"""

from __future__ import annotations

import random

CITIES = (
    (34, "İstanbul", "KADIKÖY", "CAFERAĞA"),
    (6, "Ankara", "ÇANKAYA", "KIZILAY"),
    (35, "İzmir", "KARŞIYAKA", "BOSTANLI"),
    (3, "Afyon", "DİNAR", "İNCESU"),
    (16, "Bursa", "NİLÜFER", "ÖZLÜCE"),
)
FIRST = ("Ayşe", "Mehmet", "Zeynep", "Ömer", "Çağla", "Gökhan", "Şule", "İlker", "Ülkü", "Barış")
LAST = ("Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Öztürk", "Aydın", "Doğan", "Güneş", "Koç")
PRODUCTS = (
    ("Quınn 6-Lı Bardak Seti300 Ml", "1KBARD0243", "CAM"),
    ("Pamuklu Nevresim Takımı Çift Kişilik", "1KNEVR0112", "PAMUK"),
    ("Seramik Kupa Şükran 350 Ml", "1KKUPA0410", "SERAMİK"),
    ("Keten Masa Örtüsü 150x220", "1KMASA0077", "KETEN"),
    ("Çelik Tencere Seti 7 Parça", "1KTENC0301", "ÇELİK"),
)
PROMOTIONS = ((1, "3 al 2 Öde", "3-al-2-ode"), (2, "Sepette %20 İndirim", "sepette-20-indirim"))
PAYMENT_OPTIONS = ((2, "kredi_karti"), (3, "havale"), (5, "kapida_odeme"))


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


COLOURS = ("STD", "KIRMIZI", "LACİVERT", "BEYAZ")


def _product(pk: int) -> dict:
    """The product of an order item, with tenant-specific ``attributes`` and their ``attributes_kwargs``
    (``{value, data_type, label}``), as Akinon's "Get Order Item Detail" page shows them."""
    name, base_code, material = PRODUCTS[pk % len(PRODUCTS)]
    attributes = {"materyal": material, "renk": "STD", "uretim_yeri": "TÜRKİYE", "erp_color": COLOURS[pk % 4]}
    if pk % 3 == 0:  # a tenant's attributes differ product by product
        attributes["erp_ProductAtt06Desc"] = "300 ML"
    return {
        "pk": 800 + pk % 97,
        "name": name,
        "base_code": base_code,
        "sku": f"26728810{pk % 100000:05d}",
        "product_type": "0",
        "is_active": True,
        "parent": None,
        "attributes": attributes,
        "attributes_kwargs": {
            key: {"value": value, "data_type": "dropdown", "label": value}
            for key, value in attributes.items()
        },
    }


class RecordShapes:
    """Rendering of records from the columns of :class:`~airflow_provider_akinon.testing.data.AkinonData`."""

    def _person(self, rng: random.Random) -> dict:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        return {
            "email": f"{first.lower()}.{last.lower()}@example.com".encode("ascii", "ignore").decode(),
            "first_name": first,
            "last_name": last,
            "phone_number": f"0 (5{rng.randint(10, 59)}) {rng.randint(100, 999)}-{rng.randint(1000, 9999)}",
        }

    def _address(self, rng: random.Random, person: dict) -> dict:
        city_id, city, township, district = rng.choice(CITIES)
        return {
            **person,
            "country": {"name": "Türkiye", "code": "tr"},
            "city": {"id": city_id, "name": city},
            "line": f"{district} Mah. {rng.randint(1, 200)}. Sokak No: {rng.randint(1, 90)}",
            "title": "Ev",
            "township": {"id": city_id * 100 + 1, "name": township},
            "district": {"id": city_id * 1000 + 7, "name": district},
            "postcode": f"{city_id:02d}{rng.randint(100, 999)}",
            "notes": None,
            "company_name": None,
            "tax_office": None,
            "tax_no": None,
            "e_bill_taxpayer": False,
            "identity_number": None,
            "extra_field": {},
        }

    def _item_cents(self, order_id: int) -> list[int]:
        rng = random.Random(self.seed * 31 + order_id * 17)
        return [rng.randint(990, 149990) for _ in range(self.n_items[order_id - 1])]

    def order(self, order_id: int) -> dict:
        """One order as ``GET /api/v1/orders/`` returns it."""
        i = order_id - 1
        rng = random.Random(self.seed * 1_000_003 + order_id)
        person = self._person(rng)
        address = self._address(rng, person)
        item_cents = self._item_cents(order_id)
        shipping = rng.choice((0, 0, 2990, 4990))
        discount = sum(d["_cents"] for d in self._discount_rows(order_id))
        payment_id, payment_slug = rng.choice(PAYMENT_OPTIONS)
        return {
            "id": order_id,
            "number": f"{rng.getrandbits(60):015x}",
            "status": self.status[i],
            "date_placed": self.iso(self.placed[i]),
            "created_date": self.iso(self.created[i]),
            "modified_date": self.iso(self.modified[i]),
            "customer": {"id": 1000 + rng.randint(1, 5000), **person},
            "shipping_address": address,
            "billing_address": address,
            "currency": "try",
            "amount": _money(sum(item_cents) + shipping - discount),
            "shipping_amount": _money(shipping),
            "shipping_tax_rate": None,
            "extra_field": {"cargo_line_id": f"{rng.getrandbits(64):016x}"},
            "payment_option": payment_id,
            "payment_option_slug": payment_slug,
            "bin_number": str(rng.randint(400000, 559999)),
            "installment": 22,
            "installment_count": rng.choice((1, 1, 1, 3, 6)),
            "installment_interest_amount": "0.00",
            "cargo_company": 1,
            "invoice_number": "",
            "invoice_date": None,
            "e_archive_url": None,
            "refund_amount": _money(sum(item_cents)) if self.status[i] == "600" else "0.00",
            "discount_refund_amount": "0.00",
            "shipping_refund_amount": "0.00",
            "discount_amount": _money(discount),
            "is_send": self.is_send[i],
            "net_shipping_amount": _money(shipping),
            "shipping_interest_amount": "0.00",
            "tracking_number": None,
            "carrier_shipping_code": None,
            "remote_addr": None,
            "has_gift_box": rng.random() < 0.05,
            "gift_box_note": None,
            "external_status": None,
            "cancel_status": "completed" if self.status[i] == "100" else None,
        }

    def items(self, order_id: int) -> list[dict]:
        """The order's items as ``order_item/detailed_integration/?order=`` returns them."""
        i = order_id - 1
        created = self.iso(self.created[i] + 0.01)
        modified = self.iso(self.modified[i])
        rows = []
        for pk, cents in zip(self.item_pks(order_id), self._item_cents(order_id), strict=True):
            rows.append(
                {
                    "pk": pk,
                    "order": order_id,
                    "product": _product(pk),
                    "status": self.status[i],
                    "status_display": self.status[i],
                    "price_currency": "try",
                    "price": _money(cents),
                    "tax_rate": "20.00",
                    "extra_field": {},
                    "price_list": {"pk": 1, "name": "default_price_list", "code": "default_price_list"},
                    "stock_list": {"pk": 1, "name": "default_stock_list", "code": "default_stock_list"},
                    "invoice_number": None,
                    "invoice_date": None,
                    "e_archive_url": None,
                    "cancel_status": None,
                    "installment_interest_amount": "0.00",
                    "net_amount": _money(cents),
                    "tracking_number": None,
                    "shipping_company": None,
                    "discount_amount": "0.00",
                    "benefitapplicant_set": [],
                    "external_status": None,
                    "retail_price": None,
                    "attributes": {},
                    "attributes_kwargs": {},
                    "tracking_url": None,
                    "image": None,
                    "created_date": created,
                    "modified_date": modified,
                }
            )
        return rows

    def _discount_rows(self, order_id: int) -> list[dict]:
        rows = []
        i = order_id - 1
        items = self.item_pks(order_id)
        for n, pk in enumerate(self.discount_pks(order_id)):
            promo_id, name, slug = PROMOTIONS[(pk + n) % len(PROMOTIONS)]
            cents = 500 + (pk * 7919) % 20000
            share = cents // len(items)
            rows.append(
                {
                    "pk": pk,
                    "name": name,
                    "amount": _money(cents),
                    "order": order_id,
                    "offer_type": "basket_offer",
                    "session_offer_type": None,
                    "code": None,
                    "modified_date": self.iso(self.created[i] + 0.02),
                    "promotion": {"id": promo_id, "name": name, "slug": slug},
                    "created_date": self.iso(self.created[i] + 0.02),
                    "benefitapplicant_set": [
                        {
                            "id": pk * 10 + k,
                            "discount_share": _money(share if k else cents - share * (len(items) - 1)),
                            "discount_item": pk,
                            "order_item": item,
                        }
                        for k, item in enumerate(items)
                    ],
                    "conditionapplicant_set": [],
                    "_cents": cents,
                }
            )
        return rows

    def discounts(self, order_id: int) -> list[dict]:
        """The order's discount items as ``discount_items/detailed_integration/?order=`` returns them."""
        rows = self._discount_rows(order_id)
        for row in rows:
            del row["_cents"]
        return rows

    def oms_item(self, pk: int) -> dict:
        """One OMS order item (``/api/v1/oms/order_items/``) for Omnitron order item ``pk``."""
        order_id = self.item_order(pk)
        item = next(row for row in self.items(order_id) if row["pk"] == pk)
        return {
            "id": pk,
            "omnitron_id": pk,
            "order": order_id,
            "state": {"id": 1, "name": "Preparing", "enum_class": "OrderStatus", "enum_value": "450"},
            "product": item["product"],
            "created_date": item["created_date"],
            "modified_date": item["modified_date"],
            "net_amount": item["net_amount"],
            "price": item["price"],
            "price_currency": "try",
            "retail_price": item["price"],
            "tax_rate": "20.00",
            "tax_amount": "0.00",
            "discount_amount": "0.00",
            "without_net_amount": item["price"],
            "installment_interest_amount": "0.00",
            "attributes": {"sku": item["product"]["sku"]},
            "attributes_kwargs": {},
            "image": None,
            "price_list": {"id": 1},
            "stock_list": {"id": 1},
            "extra_field": {},
            "parent_omnitron_id": None,
        }
