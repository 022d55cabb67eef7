"""Deterministic synthetic Akinon data, shaped like the seed pages of Akinon's documentation.

Orders, their order items and discount items are a pure function of ``(seed, id)`` plus a few
mutable columns (dates, status) kept in arrays, so a 200,000-order tenant costs little memory, builds in
about a second, and can be mutated (records inserted or modified) while a client pages through it.
Records are rendered straight to JSON bytes and cached until mutated.
"""

from __future__ import annotations

import bisect
import random
import threading
from datetime import UTC, datetime, timedelta
from itertools import accumulate

import orjson

STATUSES = ("50", "100", "200", "300", "350", "400", "450", "500", "510", "520", "550", "600")
STATUS_WEIGHTS = (1, 4, 2, 2, 1, 30, 10, 20, 5, 2, 20, 3)
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

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def iso(ts: float) -> str:
    """Render epoch seconds the way Akinon does: ``2021-05-11T06:42:55.684412Z``."""
    return (EPOCH + timedelta(microseconds=round(ts * 1_000_000))).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_ts(value: str) -> float:
    """Parse an ISO date or datetime (``Z`` or offset; naive means UTC) into epoch seconds."""
    text = value.strip().replace(" ", "+") if "T" in value else value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


class AkinonData:
    """
    A tenant's orders, order items and discount items.

    :param orders: number of orders.
    :param start: first day of the data (``YYYY-MM-DD``), UTC.
    :param days: orders are spread evenly over this many days, ids ascending with ``created_date``.
    :param seed: everything derives from it; the same seed gives the same tenant.
    """

    def __init__(self, orders: int = 300, *, start: str = "2026-01-01", days: int = 3, seed: int = 1) -> None:
        self.seed = seed
        self.start = parse_ts(start)
        self.days = days
        self.end = self.start + days * 86400
        self.lock = threading.RLock()
        self.version = 0
        self.ids: list[int] = []
        self.created: list[float] = []
        self.modified: list[float] = []
        self.placed: list[float] = []
        self.status: list[str] = []
        self.is_send: list[bool] = []
        self.n_items: list[int] = []
        self.n_discounts: list[int] = []
        self._cache: dict[tuple[str, int], bytes] = {}
        step = (self.end - self.start) / max(orders, 1)
        rng = random.Random(seed)
        for i in range(orders):
            self._append(self.start + (i + rng.random()) * step, rng)
        self._reindex()

    # ------------------------------------------------------------------ building and mutating
    def _append(self, created: float, rng: random.Random) -> int:
        order_id = len(self.ids) + 1
        self.ids.append(order_id)
        self.created.append(created)
        self.placed.append(created - rng.uniform(0, 30))
        self.modified.append(created + rng.uniform(0, 36 * 3600))
        self.status.append(rng.choices(STATUSES, STATUS_WEIGHTS)[0])
        self.is_send.append(rng.random() < 0.7)
        self.n_items.append(rng.randint(1, 4))
        self.n_discounts.append(rng.choice((0, 0, 1, 1, 2)))
        return order_id

    def _reindex(self) -> None:
        self.item_offsets = [0, *accumulate(self.n_items)]
        self.discount_offsets = [0, *accumulate(self.n_discounts)]
        self.version += 1

    def insert_order(self, created: float | None = None) -> int:
        """Insert an order (a new highest id); ``created`` defaults to a random moment of the data range."""
        with self.lock:
            rng = random.Random(self.seed * 7919 + len(self.ids))
            order_id = self._append(
                created if created is not None else rng.uniform(self.start, self.end), rng
            )
            self._reindex()
            return order_id

    def modify_order(
        self, order_id: int, *, modified: float | None = None, status: str | None = None
    ) -> None:
        """Change an order's ``modified_date`` (moving it between modified_date windows) and status."""
        with self.lock:
            i = order_id - 1
            rng = random.Random(self.seed * 104729 + order_id + self.version)
            self.modified[i] = modified if modified is not None else rng.uniform(self.start, self.end)
            self.status[i] = status or rng.choices(STATUSES, STATUS_WEIGHTS)[0]
            for kind in ("order", "items", "discounts"):
                self._cache.pop((kind, order_id), None)
            self.version += 1

    # ------------------------------------------------------------------ ground truth
    def order_ids(
        self, date_field: str = "created_date", start: float | None = None, end: float | None = None
    ):
        """Ids of the orders whose ``date_field`` lies in ``[start, end)``, ascending."""
        column = self.column(date_field)
        lo = -float("inf") if start is None else start
        hi = float("inf") if end is None else end
        return [oid for oid, ts in zip(self.ids, column, strict=True) if lo <= ts < hi]

    def expected(self, resource: str, date_field: str = "created_date", start=None, end=None) -> list[int]:
        """Ground truth: primary keys an export of ``resource`` over ``[start, end)`` must hold, in order.

        ``start``/``end`` are epoch seconds or ISO strings. Order items and discount items follow the
        window's orders; OMS order items are cut on their own dates.
        """
        lo = parse_ts(start) if isinstance(start, str) else start
        hi = parse_ts(end) if isinstance(end, str) else end
        if resource == "oms_order_items":
            shift = 0.01 if date_field == "created_date" else 0.0
            column = self.column(date_field)
            return [
                pk
                for oid in self.ids
                if (lo is None or lo <= column[oid - 1] + shift)
                and (hi is None or column[oid - 1] + shift < hi)
                for pk in self.item_pks(oid)
            ]
        with self.lock:
            orders = self.order_ids(date_field, lo, hi)
        children = {
            "orders": lambda oid: [oid],
            "order_items": self.item_pks,
            "discount_items": self.discount_pks,
        }
        return [pk for oid in orders for pk in children[resource](oid)]

    def item_pks(self, order_id: int) -> list[int]:
        return list(range(self.item_offsets[order_id - 1] + 1, self.item_offsets[order_id] + 1))

    def discount_pks(self, order_id: int) -> list[int]:
        return list(range(self.discount_offsets[order_id - 1] + 1, self.discount_offsets[order_id] + 1))

    def item_order(self, pk: int) -> int:
        """The order id of order item ``pk``."""
        return bisect.bisect_left(self.item_offsets, pk)

    def column(self, date_field: str) -> list[float]:
        return {"created_date": self.created, "modified_date": self.modified, "date_placed": self.placed}[
            date_field
        ]

    # ------------------------------------------------------------------ rendering
    def order_json(self, order_id: int) -> bytes:
        key = ("order", order_id)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._cache[key] = orjson.dumps(self.order(order_id))
        return cached

    def items_json(self, order_id: int) -> list[bytes]:
        return [orjson.dumps(item) for item in self.items(order_id)]

    def discounts_json(self, order_id: int) -> list[bytes]:
        return [orjson.dumps(d) for d in self.discounts(order_id)]

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
            "date_placed": iso(self.placed[i]),
            "created_date": iso(self.created[i]),
            "modified_date": iso(self.modified[i]),
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
        created = iso(self.created[i] + 0.01)
        modified = iso(self.modified[i])
        rows = []
        for pk, cents in zip(self.item_pks(order_id), self._item_cents(order_id), strict=True):
            name, base_code, material = PRODUCTS[pk % len(PRODUCTS)]
            sku = f"26728810{pk % 100000:05d}"
            rows.append(
                {
                    "pk": pk,
                    "order": order_id,
                    "product": {
                        "pk": 800 + pk % 97,
                        "name": name,
                        "base_code": base_code,
                        "sku": sku,
                        "product_type": "0",
                        "is_active": True,
                        "attributes": {"materyal": material, "renk": "STD", "uretim_yeri": "TÜRKİYE"},
                    },
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
                    "modified_date": iso(self.created[i] + 0.02),
                    "promotion": {"id": promo_id, "name": name, "slug": slug},
                    "created_date": iso(self.created[i] + 0.02),
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
