"""What must hold after the soak, each check returning what it found: the first broken invariant fails the soak."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from airflow_provider_akinon.exports import iter_export_records, read_manifest
from airflow_provider_akinon.exports.commit.lease import LEASE, LeaseState
from tests.drf_tenant.tenant import Tenant, instant

KEYS = {"orders": "id", "order_items": "pk", "discount_items": "pk"}
PARENTS = {"order_items": ("order_items", "order_id"), "discount_items": ("discount_items", "order_id")}


@dataclass
class Tally:
    """The invariants that broke (in the order found), and the records exported, lost and doubled."""

    broken: list[str] = field(default_factory=list)
    exported: int = 0
    lost: int = 0
    doubled: int = 0

    def expect(self, ok: bool, message: str) -> None:
        if not ok:
            self.broken.append(message)


class Bucket:
    """The soak's bucket, read with boto3: keys under a prefix, and their bytes."""

    def __init__(self, client: Any, name: str, prefix: str) -> None:
        self.client, self.name, self.prefix = client, name, prefix

    def keys(self, under: str = "") -> list[str]:
        found = []
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.name, Prefix=f"{self.prefix}/{under}"
        ):
            found += [entry["Key"].removeprefix(f"{self.prefix}/") for entry in page.get("Contents", [])]
        return found

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.name, Key=f"{self.prefix}/{key}")["Body"].read()

    def uri(self, folder: str) -> str:
        return f"s3://aws_default@{self.name}/{self.prefix}/{folder}"


def partitions(bucket: Bucket, under: str) -> dict[str, list[str]]:
    """The keys of each partition folder under ``under`` (a folder holding a manifest or ``_akinon/``)."""
    folders: dict[str, list[str]] = defaultdict(list)
    for key in bucket.keys(under):
        head, _, tail = key.partition("/_akinon/")
        if tail:
            folders[head].append(f"_akinon/{tail}")
        else:
            folder, _, name = key.rpartition("/")
            folders[folder].append(name)
    return dict(folders)


def check_tidy(bucket: Bucket, tally: Tally, unders: Iterable[str]) -> dict[str, int]:
    """Every partition: a manifest, exactly its parts, a free lease, no staging; superseded parts counted."""
    seen = {"partitions": 0, "superseded": 0}
    for under in unders:
        for folder, names in sorted(partitions(bucket, under).items()):
            seen["partitions"] += 1
            tally.expect("_manifest.json" in names, f"{folder}: no manifest")
            if "_manifest.json" not in names:
                continue
            listed = {f["name"] for f in read_manifest(bucket.uri(folder))["files"]}
            parts = {n for n in names if not n.startswith("_")}
            tally.expect(
                parts == listed, f"{folder}: parts {sorted(parts ^ listed)} not as the manifest says"
            )
            lease = LeaseState.decode(bucket.read(f"{folder}/{LEASE}")) if LEASE in names else LeaseState()
            tally.expect((lease.holder, lease.intent) == (None, None), f"{folder}: lease still held: {lease}")
            staging = [n for n in names if n.startswith("_akinon/staging/")]
            tally.expect(not staging, f"{folder}: staging left: {staging[:5]}")
            others = [n for n in names if n.startswith("_akinon/") and n != LEASE and n not in staging]
            superseded = [n for n in others if n.startswith("_akinon/superseded/part-")]
            tally.expect(
                others == superseded, f"{folder}: unexpected objects {sorted(set(others) - set(superseded))}"
            )
            seen["superseded"] += len(superseded)
    return seen


def check_daily(bucket: Bucket, tenant: Tenant, days: list[str], tally: Tally) -> None:
    """Each day's partition holds exactly the tenant's records of that day; each order a version that existed."""
    created = tenant.rows("orders", "id", "created_date")
    versions: dict[int, set] = defaultdict(set)
    for order, status, modified in tenant.rows("versions", "order_id", "status", "modified_date"):
        versions[order].add((status, instant(modified)))
    children = {r: tenant.rows(table, "id", parent) for r, (table, parent) in PARENTS.items()}
    for day in days:
        start = instant(f"{day}T00:00:00")
        end = start + timedelta(days=1)
        orders = sorted(key for key, at in created if start <= instant(at) < end)
        truth = {"orders": orders}
        wanted = set(orders)
        for resource, rows in children.items():
            truth[resource] = sorted(key for key, parent in rows if parent in wanted)
        for resource, expected in truth.items():
            folder = f"akinon/{resource}/date={day}"
            try:
                records = list(iter_export_records(bucket.uri(folder)))
            except Exception as error:
                tally.expect(False, f"{folder}: {error}")
                tally.lost += len(expected)
                continue
            got = [record[KEYS[resource]] for record in records]
            tally.exported += len(got)
            tally.lost += len(set(expected) - set(got))
            tally.doubled += len(got) - len(set(got))
            tally.expect(
                sorted(got) == expected,
                f"{folder}: ids differ from the tenant's ({len(got)} vs {len(expected)})",
            )
            if resource == "orders":
                stale = [
                    r["id"]
                    for r in records
                    if (r["status"], instant(r["modified_date"])) not in versions[r["id"]]
                ]
                tally.expect(not stale, f"{folder}: orders {stale[:5]} hold a version that never existed")


def check_current(table: dict[int, tuple[str, datetime]], tenant: Tenant, tally: Tally) -> None:
    """The Delta table's live rows are the tenant's orders now, status and modified_date."""
    database = tenant.current()
    missing = set(database) - set(table)
    extra = set(table) - set(database)
    differ = [key for key in set(table) & set(database) if table[key] != database[key]]
    tally.expect(not missing, f"current orders: {len(missing)} missing, e.g. {sorted(missing)[:5]}")
    tally.expect(
        not extra, f"current orders: {len(extra)} live that the tenant deleted, e.g. {sorted(extra)[:5]}"
    )
    tally.expect(
        not differ, f"current orders: {len(differ)} not at their newest version, e.g. {sorted(differ)[:5]}"
    )


def check_events(bucket: Bucket, tenant: Tenant, after: int, tally: Tally) -> int:
    """Every order newer than ``after`` exported by exactly one event run (deleted ones at most once)."""
    exported: Counter = Counter()
    runs = 0
    for folder in sorted(partitions(bucket, "akinon/events/orders/")):
        runs += 1
        ids = [r["id"] for r in iter_export_records(bucket.uri(folder))]
        first, _, last = folder.rpartition("ids=")[2].partition("-")
        tally.expect(all(int(first) <= i <= int(last) for i in ids), f"{folder}: an order outside its range")
        exported.update(ids)
    live = {key for (key,) in tenant.rows("orders", "id") if key > after}
    deleted = {key for (key,) in tenant.rows("deleted_items", "object_id") if key > after}
    tally.exported += sum(exported.values())
    doubled = {key: n for key, n in exported.items() if n > 1}
    tally.doubled += sum(n - 1 for n in doubled.values())
    lost = live - set(exported)
    tally.lost += len(lost)
    tally.expect(not doubled, f"events: orders exported by more than one run: {sorted(doubled)[:5]}")
    tally.expect(not lost, f"events: new orders never exported: {sorted(lost)[:5]}")
    tally.expect(
        set(exported) <= live | deleted,
        f"events: exported orders the tenant never had: {sorted(set(exported) - live - deleted)[:5]}",
    )
    tally.expect(len(live) > 0, "events: the shop added no order during the soak")
    return runs


def check_secrets(texts: dict[str, bytes], secrets: list[str], tally: Tally) -> int:
    """No secret in any of ``texts`` (task logs, manifests, part files)."""
    for name, data in texts.items():
        for secret in secrets:
            tally.expect(secret.encode() not in data, f"{name}: holds a secret ({secret[:2]}…)")
    return len(texts)
