"""`make bench` (d) and (f): merge 20,000 changed orders into a Delta (d) or Iceberg (f) table of 1,000,000
orders, then rerun it.

The table is built first (not timed): 1,000,000 orders in the provider's table schema, ten files of
100,000 ids. The changes are 20,000 real order records of the fake tenant, staged as Parquet exactly as
an export stages them, for ids among the newest 100,000 (recent orders are the ones that change) with a
newer ``modified_date``. Each merge runs in its own process, timed around the format's ``merge`` alone
(the format's libraries imported before the clock starts), with its peak RSS. The rerun merges the same changes again: nothing is newer, so nothing is written.

Usage: python benchmarks/table_merge.py [--format delta|iceberg] [--rows 1000000] [--changed 20000]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from child import peak_rss_mb, report, run_child

HERE = Path(__file__).resolve()


def build(folder: Path, rows: int, changed: int, file_format: str) -> tuple[str, list[str]]:
    """The base table and the staged changes; returns the table path and the staged Parquet files."""
    import logging

    import pyarrow as pa

    from airflow_provider_akinon.compat import ObjectStoragePath
    from airflow_provider_akinon.exports.formats.parts import PartWriter
    from airflow_provider_akinon.exports.registry import format_named
    from airflow_provider_akinon.exports.tables.current import table_schema
    from airflow_provider_akinon.hooks.paging.records import Records
    from airflow_provider_akinon.resources import ORDERS
    from airflow_provider_akinon.testing.data import AkinonData

    logging.disable(logging.WARNING)
    schema, table = table_schema(ORDERS), str(folder / "orders")
    then = datetime(2026, 1, 1, tzinfo=UTC)
    chunk = 100_000
    for start in range(1, rows + 1, chunk):
        ids = list(range(start, min(start + chunk, rows + 1)))
        columns = {field.name: pa.nulls(len(ids), field.type) for field in schema}
        columns["id"] = pa.array(ids, pa.int64())
        stamps = pa.array([then + timedelta(seconds=i) for i in ids], schema.field("modified_date").type)
        columns["modified_date"] = columns["created_date"] = stamps
        columns["status"] = pa.array(["400"] * len(ids))
        columns["_record"] = pa.array([f'{{"id":{i},"status":"400"}}' for i in ids])
        columns["_exported_at"] = pa.array([then] * len(ids), schema.field("_exported_at").type)
        append(table, pa.table(columns, schema=schema), file_format)

    data = AkinonData(orders=changed, start="2026-02-01", days=1, seed=3)
    if rows:  # newer versions of orders among the newest 100,000
        chosen = sorted(random.Random(5).sample(range(max(1, rows - 100_000 + 1), rows + 1), changed))
    else:  # a first load: the orders themselves
        chosen = list(range(1, changed + 1))
    writer = PartWriter(
        ObjectStoragePath(f"file://{folder}/staging"), "s00000", format_named("parquet"), ORDERS, 1 << 40
    )
    (folder / "staging").mkdir()
    for start in range(0, changed, 1000):
        records = []
        for order_id, source in zip(
            chosen[start : start + 1000], range(start + 1, start + 1001), strict=False
        ):
            records.append({**data.order(source), "id": order_id})  # a newer version of that order
        writer.write(Records(parsed=records))
    return table, [str(folder / "staging" / part.name) for part in writer.close()]


def append(table: str, rows, file_format: str) -> None:
    """Append ``rows`` (a pyarrow table) to the base table, as its format writes it."""
    if file_format == "iceberg":
        from airflow_provider_akinon.compat import ObjectStoragePath
        from airflow_provider_akinon.exports.tables.iceberg_table import open_table

        iceberg = open_table(ObjectStoragePath(f"file://{table}"), rows.schema)
        iceberg.append(rows.cast(iceberg.schema().as_arrow()))
        return
    from deltalake import write_deltalake

    write_deltalake(table, rows, mode="append")


def merge(file_format: str, table: str, parts: list[str], history: bool = False) -> dict:
    """Child process: one merge (into a history table with ``history``), timed, with this process's peak RSS."""
    import logging

    from airflow_provider_akinon.compat import ObjectStoragePath
    from airflow_provider_akinon.exports.registry import format_named
    from airflow_provider_akinon.resources import ORDERS

    logging.disable(logging.WARNING)
    staged = [ObjectStoragePath(f"file://{part}") for part in parts]
    target = ObjectStoragePath(f"file://{table}")
    warm_imports(file_format)
    started = time.perf_counter()
    chosen = format_named(file_format)
    if history:
        from airflow_provider_akinon.exports.tables.history import History

        chosen = History.of(chosen)
    result = chosen.merge(ORDERS, target, staged, datetime.now(UTC))
    return {
        **result,
        "seconds": time.perf_counter() - started,
        "rss_mb": peak_rss_mb(),
    }


def warm_imports(file_format: str) -> None:
    """Import the format's libraries before the clock starts: a process's imports (about a second for
    PyIceberg with its catalog, less for delta-rs) are not the merge's."""
    import importlib

    names = ["pyarrow.dataset", "pyarrow.parquet"]
    iceberg = ["pyiceberg.table", "pyiceberg.io.pyarrow", "pyiceberg.expressions"]
    names += (
        [*iceberg, "airflow_provider_akinon.exports.tables.iceberg_catalog"]
        if file_format == "iceberg"
        else ["deltalake"]
    )
    for name in names:
        importlib.import_module(name)


def measure(file_format: str, table: str, parts: list[str], history: bool = False) -> dict:
    flags = ["--history"] if history else []
    return run_child(str(HERE), "--format", file_format, *flags, "--merge", table, *parts, what="merge")


def loads(sizes: list[int]) -> list[str]:
    """(i): the first load of ``sizes`` orders into an empty table, current state (Iceberg) and history
    (Delta, Iceberg): peak RSS as the export grows (a merge reads it a chunk at a time)."""
    lines = [
        "\n(i) the first load of an export into an empty table (file://, one commit): peak RSS as the export grows",
        "| merge | orders exported | seconds | peak RSS MB |",
        "|---|---|---|---|",
    ]
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            _, parts = build(Path(tmp), 0, size, "delta")
            for label, file_format, history in (
                ("Iceberg, current state", "iceberg", False),
                ("Delta, history", "delta", True),
                ("Iceberg, history", "iceberg", True),
            ):
                table = str(Path(tmp) / f"{file_format}-{history}")
                result = measure(file_format, table, parts, history)
                lines.append(f"| {label} | {size:,} | {result['seconds']:.2f} | {result['rss_mb']:.0f} |")
    return lines


def run(rows: int, changed: int, file_format: str) -> list[str]:
    """The table of (d) or (f), as Markdown lines."""
    with tempfile.TemporaryDirectory() as tmp:
        table, parts = build(Path(tmp), rows, changed, file_format)
        first, rerun = measure(file_format, table, parts), measure(file_format, table, parts)
    label, name = ("(f)", "an Iceberg") if file_format == "iceberg" else ("(d)", "a Delta")
    lines = [
        f"\n{label} merging {changed:,} changed orders into {name} table of {rows:,} (file://, one commit)",
        "| merge | seconds | peak RSS MB | inserted | updated | table version |",
        "|---|---|---|---|---|---|",
    ]
    for label, result in (("changes", first), ("rerun of the same changes", rerun)):
        lines.append(
            f"| {label} | {result['seconds']:.2f} | {result['rss_mb']:.0f} | {result['inserted']:,} | "
            f"{result['updated']:,} | {result['table_version']} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--changed", type=int, default=20_000)
    parser.add_argument("--format", default="delta", choices=("delta", "iceberg"))
    parser.add_argument("--history", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--merge", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--loads", type=int, nargs="+", help="(i): first loads of these many orders")
    args = parser.parse_args()
    if args.merge:
        report(merge(args.format, args.merge[0], args.merge[1:], args.history))
        return
    if args.loads:
        print("\n".join(loads(args.loads)))
        return
    print("\n".join(run(args.rows, args.changed, args.format)))


if __name__ == "__main__":
    main()
