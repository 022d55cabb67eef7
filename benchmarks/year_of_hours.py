"""`make bench` (h): a year of hourly merges (8,760 small commits, compressed in time) into one table.

Each hour merges the changes of a simulated shop into a current-state table (Delta or Iceberg), as the
hourly changes DAG does: about 30 orders an hour, a third new, the rest newer versions of recent orders,
staged as Parquet exactly as an export stages them. ``maintain()`` runs on the hourly DAG's schedule, once
a simulated day, with a retention of a simulated week (the wall time since the merge of 168 hours
before: the year passes in minutes), so the snapshots and files of the last week stay, as they would.
Printed: the time of the 10th merge and of the last (the median of the ten around each, against the
machine's noise), the files on disk against the live files once the year is over (a last ``maintain()``
as if a quiet week had passed: nothing unreferenced may stay behind), and whether the table holds exactly
the newest version of every order.

Targets (issue #34): the last merge costs no more than 2x the tenth; files on disk within 2x the live
files; the table exact.

Usage: python benchmarks/year_of_hours.py [--format delta|iceberg] [--hours 8760]
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import random
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

DAY = 24
WEEK = 168
PER_HOUR = 30


def stage(folder: Path, hour: int, records: list[dict]) -> list:
    """An hour's changes staged as an export stages them (one Parquet part)."""
    from airflow_provider_akinon.compat import ObjectStoragePath
    from airflow_provider_akinon.exports.formats.parts import PartWriter
    from airflow_provider_akinon.exports.registry import format_named
    from airflow_provider_akinon.hooks.paging.records import Records
    from airflow_provider_akinon.resources import ORDERS

    staging = folder / f"h{hour}"
    staging.mkdir(parents=True)
    writer = PartWriter(ObjectStoragePath(f"file://{staging}"), "s", format_named("parquet"), ORDERS, 1 << 40)
    writer.write(Records(parsed=records))
    return [ObjectStoragePath(f"file://{staging / part.name}") for part in writer.close()]


def files_on_disk(table: Path) -> int:
    """The data files under the table's folder (not its log or metadata: Delta's checkpoints are Parquet)."""
    return sum(1 for p in table.rglob("*.parquet") if p.is_file() and "_delta_log" not in p.parts)


def live_files(table: str, file_format: str) -> int:
    """The data files the table's current version reads."""
    from airflow_provider_akinon.compat import ObjectStoragePath

    if file_format == "iceberg":
        from airflow_provider_akinon.exports.tables.iceberg_table import open_table

        return len(list(open_table(ObjectStoragePath(f"file://{table}"), None).scan().plan_files()))
    from deltalake import DeltaTable

    return len(DeltaTable(table).file_uris())


def held(table: str, file_format: str) -> dict[int, str]:
    """Every live order in the table: its newest modified_date."""
    from airflow_provider_akinon.compat import ObjectStoragePath

    if file_format == "iceberg":
        from airflow_provider_akinon.exports.tables.iceberg_table import open_table

        rows = open_table(ObjectStoragePath(f"file://{table}"), None).scan().to_arrow()
    else:
        from deltalake import DeltaTable

        rows = DeltaTable(table).to_pyarrow_table(columns=["id", "modified_date"])
    return {
        i: m.isoformat()
        for i, m in zip(rows.column("id").to_pylist(), rows.column("modified_date").to_pylist(), strict=True)
    }


def run(file_format: str, hours: int) -> dict:
    """The year, hour by hour; what it cost and whether the table is exact."""
    from airflow_provider_akinon.compat import ObjectStoragePath
    from airflow_provider_akinon.exports import maintain
    from airflow_provider_akinon.exports.registry import format_named
    from airflow_provider_akinon.resources import ORDERS
    from airflow_provider_akinon.testing.data import AkinonData

    logging.disable(logging.WARNING)
    shop = AkinonData(orders=PER_HOUR, start="2026-01-01", days=1, seed=7)
    chosen = format_named(file_format)
    rng = random.Random(11)
    newest: dict[int, datetime] = {}
    seconds: list[float] = []
    began_at: list[float] = []  # the wall time each simulated hour began
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with tempfile.TemporaryDirectory(prefix="akinon-year-") as scratch:
        root = Path(scratch)
        table = root / "orders"
        target = ObjectStoragePath(f"file://{table}")
        next_id = 1
        for hour in range(hours):
            at = start + timedelta(hours=hour)
            new = [next_id + n for n in range(PER_HOUR // 3)]
            next_id += len(new)
            recent = [i for i in range(max(1, next_id - 2_000), next_id - len(new))]
            changed = rng.sample(recent, min(len(recent), PER_HOUR - len(new)))
            records = []
            for n, order_id in enumerate(new + changed):
                stamp = at + timedelta(seconds=n + 1)
                body = shop.order(n % PER_HOUR + 1)
                records.append(
                    {**body, "id": order_id, "modified_date": stamp.isoformat().replace("+00:00", "Z")}
                )
                newest[order_id] = stamp
            parts = stage(root / "staging", hour, records)
            began_at.append(time.time())
            began = time.perf_counter()
            chosen.merge(ORDERS, target, parts, at + timedelta(minutes=5))
            seconds.append(time.perf_counter() - began)
            for part in parts:
                part.unlink()
            if (hour + 1) % DAY == 0:  # the hourly DAG's daily maintenance, keeping a (simulated) week
                week = (time.time() - began_at[max(0, hour + 1 - WEEK)]) / 86_400
                maintain(str(table), retention_days=week)
            if (hour + 1) % 1000 == 0:
                print(
                    f"  {file_format}: {hour + 1} hours, last merge {seconds[-1]:.3f} s",
                    file=sys.stderr,
                    flush=True,
                )
        maintain(str(table), retention_days=0)  # a quiet week later
        found = held(str(table), file_format)
        expected = {i: m.isoformat() for i, m in newest.items()}
        return {
            "tenth": statistics.median(seconds[5:15]),
            "last": statistics.median(seconds[-10:]),
            "total": sum(seconds),
            "on_disk": files_on_disk(table),
            "live": live_files(str(table), file_format),
            "orders": len(expected),
            "exact": found == expected,
            "wrong": len(set(found.items()) ^ set(expected.items())),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--format", choices=("delta", "iceberg"), nargs="+", default=["delta", "iceberg"])
    parser.add_argument("--hours", type=int, default=8_760)
    args = parser.parse_args()
    lines = [
        f"\n(h) a year of hourly merges: {args.hours:,} commits of ~{PER_HOUR} orders into one current-state "
        "table, maintain() daily keeping a simulated week (the year compressed in time)",
        "| table | 10th merge | last merge | last / 10th | all merges | files on disk / live | orders | exact |",
        "|---|---|---|---|---|---|---|---|",
    ]
    checks = []
    # each format in a process of its own, at once (one core each): the year takes the slower one's time
    with ProcessPoolExecutor(len(args.format), mp_context=multiprocessing.get_context("spawn")) as pool:
        results = list(pool.map(run, args.format, [args.hours] * len(args.format)))
    for file_format, r in zip(args.format, results, strict=True):
        ratio, files = r["last"] / r["tenth"], r["on_disk"] / max(1, r["live"])
        lines.append(
            f"| {file_format} | {r['tenth']:.3f} s | {r['last']:.3f} s | {ratio:.1f}x | {r['total']:.0f} s | "
            f"{r['on_disk']} / {r['live']} ({files:.1f}x) | {r['orders']:,} | "
            f"{'yes' if r['exact'] else 'NO: ' + str(r['wrong']) + ' wrong'} |"
        )
        checks += [
            (f"(h) {file_format}: the last merge within 2x the tenth ({ratio:.1f}x)", ratio <= 2),
            (f"(h) {file_format}: files on disk within 2x the live files ({files:.1f}x)", files <= 2),
            (f"(h) {file_format}: the table exact after a year", r["exact"]),
        ]
    print("\n".join(lines))
    print("\n".join(f"[{'met' if ok else 'MISSED'}] {what}" for what, ok in checks))


if __name__ == "__main__":
    main()
