"""Run the test tenant: ``python -m tests.drf_tenant.serve --port 0 --orders 3000 --inserts 2 --updates 3``.

Creates the database and a user (``akinon`` / ``s3cret-Pa55``), seeds orders over the past days (each
with items and discounts), prints ``READY <port>`` and serves on 127.0.0.1 with threads. A writer thread
inserts ``--inserts`` orders a second (created now, with their items) and updates ``--updates`` others
(``save()``: Django's ``auto_now`` stamps their ``modified_date`` now), until the process is stopped.
Every version of an order written is logged (``OrderVersion``).

``--role`` splits it into processes, as a deployment runs it (on PostgreSQL, ``DRF_TENANT_DATABASE``):
``setup`` (migrate, seed, the user; then exit), ``web`` (serve; several on one ``--port`` share it,
SO_REUSEPORT, so one can be killed while the others answer) and ``writer`` (the shop's writes).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socketserver
import sys
import threading
from datetime import timedelta
from decimal import Decimal
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.drf_tenant.settings")
USER, PASSWORD = "akinon", "s3cret-Pa55"


class ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_port = True  # several web workers on one port


class Counting:
    """The tenant's WSGI app, counting the requests it serves (``GET /_requests`` tells, for the tests)."""

    def __init__(self, app: Any) -> None:
        self.app, self.count, self.lock = app, 0, threading.Lock()

    def __call__(self, environ: dict, start_response: Any) -> Any:
        if environ.get("PATH_INFO") == "/_requests":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [str(self.count).encode()]
        with self.lock:
            self.count += 1
        return self.app(environ, start_response)


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


def seed(orders: int, days: float, until: float, rng: random.Random) -> None:
    """
    Orders spread over ``days`` days ending at the start of the hour ``until`` hours ago, each modified
    some time after it was created (never after that end), with children.
    """
    from django.utils import timezone

    from tests.drf_tenant.models import DiscountItem, Order, OrderItem, OrderVersion

    end = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=until)
    start = end - timedelta(days=days)
    step = (end - start) / orders
    rows = [
        Order(
            number=f"{rng.getrandbits(60):015x}",
            status=rng.choice(["400", "450", "500", "550"]),
            amount=Decimal(rng.randint(1000, 90000)) / 100,
            created_date=start + step * i,
            shipping_address=address(rng),
        )
        for i in range(orders)
    ]
    Order.objects.bulk_create(rows, batch_size=500)
    saved = list(Order.objects.order_by("id"))
    for order in saved:  # auto_now stamped them now: their history says otherwise
        room = min(6 * 3600, (end - order.created_date).total_seconds())
        order.modified_date = order.created_date + timedelta(seconds=rng.uniform(0, room))
    Order.objects.bulk_update(saved, ["modified_date"], batch_size=500)
    OrderVersion.objects.bulk_create(
        [OrderVersion(order_id=o.id, status=o.status, modified_date=o.modified_date) for o in saved],
        batch_size=500,
    )
    items, discounts = [], []
    for order in saved:
        at = {"created_date": order.created_date}
        items += [
            OrderItem(order=order, price=Decimal(rng.randint(100, 9000)) / 100, product=product(rng), **at)
            for _ in range(rng.randint(1, 3))
        ]
        discounts += [
            DiscountItem(order=order, name="3 al 2 Öde", amount=Decimal("5.00"), **at)
            for _ in range(rng.choice((0, 1)))
        ]
    for model, batch in ((OrderItem, items), (DiscountItem, discounts)):
        model.objects.bulk_create(batch, batch_size=500)
        created = list(model.objects.select_related("order").order_by("id"))
        for child in created:
            child.modified_date = child.order.modified_date
        model.objects.bulk_update(created, ["modified_date"], batch_size=500)
    seed_shares()


CITIES = ("İstanbul", "Ankara", "İzmir", "Bursa", "Afyon")
COLOURS = ("STD", "KIRMIZI", "LACİVERT", "BEYAZ")


def product(rng: random.Random) -> dict:
    """An order item's product as Akinon nests it: tenant attributes (a dict of data) and their kwargs."""
    attributes = {"erp_color": rng.choice(COLOURS), "renk": "STD", "materyal": rng.choice(("CAM", "PAMUK"))}
    if rng.random() < 0.3:
        attributes["erp_ProductAtt06Desc"] = "300 ML"
    return {
        "sku": f"26728810{rng.randint(0, 99999):05d}",
        "name": "Quınn 6-Lı Bardak Seti",
        "attributes": attributes,
        "attributes_kwargs": {
            k: {"value": v, "data_type": "dropdown", "label": v} for k, v in attributes.items()
        },
    }


def address(rng: random.Random) -> dict:
    city = rng.randrange(len(CITIES))
    return {
        "city": {"id": city + 1, "name": CITIES[city]},
        "line": f"{rng.randint(1, 99)}. Sokak",
        "extra_field": {},
    }


def seed_shares() -> None:
    """Each discount shared over its order's items (Omnitron's ``benefitapplicant_set``), to the kuruş."""
    from tests.drf_tenant.models import BenefitApplicant, DiscountItem, OrderItem

    items: dict[int, list[int]] = {}
    for pk, order in OrderItem.objects.values_list("id", "order_id").order_by("id"):
        items.setdefault(order, []).append(pk)
    shares = []
    for discount in DiscountItem.objects.order_by("id"):
        mine = items.get(discount.order_id, [])
        each = (discount.amount / len(mine)).quantize(Decimal("0.01")) if mine else Decimal(0)
        for n, pk in enumerate(mine):
            share = discount.amount - each * (len(mine) - 1) if n == 0 else each
            shares.append(BenefitApplicant(discount_item=discount, order_item_id=pk, discount_share=share))
    BenefitApplicant.objects.bulk_create(shares, batch_size=500)


def seed_products(count: int, days: float, until: float, rng: random.Random) -> None:
    """``count`` products, created and last modified at random over the same span as the orders."""
    from django.utils import timezone

    from tests.drf_tenant.models import Product

    end = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=until)
    span = days * 86400
    made = Product.objects.bulk_create(
        [
            Product(sku=f"SKU-{n:05d}", name=f"product {n}", price=Decimal(rng.randrange(100, 99999)) / 100)
            for n in range(count)
        ],
        batch_size=500,
    )
    for product in made:
        product.created_date = end - timedelta(seconds=rng.uniform(0, span))
        room = (end - product.created_date).total_seconds()
        product.modified_date = product.created_date + timedelta(seconds=rng.uniform(0, room))
    Product.objects.bulk_update(made, ["created_date", "modified_date"], batch_size=500)


def seed_stock_moves(count: int, days: float, until: float, rng: random.Random) -> None:
    """``count`` stock moves, moved at random over the same span as the orders (keys not in date order)."""
    from django.utils import timezone

    from tests.drf_tenant.models import StockMove

    end = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=until)
    moves = [
        StockMove(
            sku=f"SKU-{rng.randrange(1000):05d}",
            quantity=rng.randrange(-50, 200),
            moved_at=end - timedelta(seconds=rng.uniform(0, days * 86400)),
        )
        for _ in range(count)
    ]
    StockMove.objects.bulk_create(moves, batch_size=500)


def version(order: Any) -> None:
    from tests.drf_tenant.models import OrderVersion

    OrderVersion.objects.create(order_id=order.id, status=order.status, modified_date=order.modified_date)


def victim(recent: float | None) -> Any:
    """An order to delete: any, or one created in the last ``recent`` minutes."""
    from django.utils import timezone

    from tests.drf_tenant.models import Order

    orders = Order.objects.all()
    if recent is not None:
        orders = orders.filter(created_date__gte=timezone.now() - timedelta(minutes=recent))
    return orders.order_by("?").first()


def write(
    inserts: float,
    updates: float,
    deletes: float,
    rng: random.Random,
    stop: threading.Event,
    recent: float | None,
    least_deleted: int = 0,
) -> None:
    """A busy shop: new orders (created now, with items), updates and deletions of others.

    Asked to stop before it has deleted ``least_deleted`` orders in all, it goes on without pausing, its
    writes in the same proportions, until it has (tests that count on deletions do not rest on how long
    they ran).
    """
    from django.db import transaction

    from tests.drf_tenant.models import DeletedItem, Order, OrderItem

    ticks = max(inserts, updates, deletes, 1.0)
    owed = {"insert": 0.0, "update": 0.0, "delete": 0.0}
    deleted = 0
    while not stop.wait(1 / ticks) or deleted < least_deleted:
        owed["insert"] += inserts / ticks
        owed["update"] += updates / ticks
        owed["delete"] += deletes / ticks
        with transaction.atomic():  # each write whole, as the shop commits it
            while owed["delete"] >= 1:
                owed["delete"] -= 1
                gone = victim(recent)
                if gone is not None:
                    DeletedItem.objects.create(object_id=gone.id, content_type_model="order")
                    gone.delete()
                    deleted += 1
        while owed["insert"] >= 1:
            owed["insert"] -= 1
            with transaction.atomic():
                order = Order.objects.create(number=f"{rng.getrandbits(60):015x}", amount=Decimal("10.00"))
                OrderItem.objects.create(order=order, price=Decimal("10.00"))
                version(order)
        while owed["update"] >= 1:
            owed["update"] -= 1
            last = Order.objects.order_by("-id").values_list("id", flat=True).first() or 0
            with transaction.atomic():
                order = Order.objects.filter(id=rng.randint(1, max(1, last))).first()
                if order is not None:
                    order.status = rng.choice(["450", "500", "550", "600"])
                    order.save()  # auto_now: modified_date is now
                    version(order)


def setup(args: argparse.Namespace) -> None:
    """The tables, the seeded orders (once), the API user."""
    from django.contrib.auth.models import User
    from django.core.management import call_command

    from tests.drf_tenant.models import Order

    call_command("migrate", run_syncdb=True, verbosity=0)
    if not Order.objects.exists():
        seed(args.orders, args.days, args.until, random.Random(args.seed))
        seed_products(args.products, args.days, args.until, random.Random(args.seed + 2))
        seed_stock_moves(args.stock_moves, args.days, args.until, random.Random(args.seed + 3))
    if not User.objects.filter(username=USER).exists():
        User.objects.create_user(USER, password=PASSWORD)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.drf_tenant.serve", description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--orders", type=int, default=3000)
    parser.add_argument("--days", type=float, default=3)
    parser.add_argument("--until", type=float, default=1, help="the seeded days end this many hours ago")
    parser.add_argument("--products", type=int, default=0, help="products to seed")
    parser.add_argument("--stock-moves", type=int, default=0, help="stock moves to seed")
    parser.add_argument("--inserts", type=float, default=0.0, help="new orders a second")
    parser.add_argument("--updates", type=float, default=0.0, help="updated orders a second")
    parser.add_argument("--deletes", type=float, default=0.0, help="deleted orders a second")
    parser.add_argument(
        "--least-deleted", type=int, default=0, help="asked to stop, first delete this many orders in all"
    )
    parser.add_argument(
        "--delete-recent", type=float, default=None, help="delete only orders this many minutes old"
    )
    parser.add_argument("--role", choices=("all", "setup", "web", "writer"), default="all")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.least_deleted and not args.deletes:
        parser.error("--least-deleted needs --deletes: a writer that never deletes would never stop")

    import django

    django.setup()
    from django.core.wsgi import get_wsgi_application

    if args.role in ("all", "setup"):
        setup(args)
    if args.role == "setup":
        print("READY 0", flush=True)
        return 0
    stop = threading.Event()
    rates = (args.inserts, args.updates, args.deletes)
    rng = random.Random(args.seed + 1)
    writer = threading.Thread(
        target=write, args=(*rates, rng, stop, args.delete_recent, args.least_deleted), daemon=True
    )
    if any(rates) and args.role in ("all", "writer"):
        writer.start()

    def stop_writing(*_: object) -> None:  # SIGUSR1: the shop closes; the API stays up
        stop.set()
        if writer.is_alive():
            writer.join()
        print("STOPPED", flush=True)

    signal.signal(signal.SIGUSR1, lambda *_: threading.Thread(target=stop_writing).start())
    if args.role == "writer":
        print("READY 0", flush=True)
        stop.wait()
        return 0
    server = make_server(
        "127.0.0.1", args.port, Counting(get_wsgi_application()), ThreadingServer, QuietHandler
    )
    print(f"READY {server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        stop.set()
    return 0


if __name__ == "__main__":
    sys.exit(main())
