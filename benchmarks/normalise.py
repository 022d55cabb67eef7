"""(g) normalising the same 200,000 detailed order items into Parquet: this provider against dlt.

The items (the fake tenant's, shaped as Akinon's "Get Order Item Detail" page shows them: the nested
product with tenant attributes, price and stock lists) are written once to a JSON Lines file. This
provider's side reads it in pages of 1,000, as a walk hands them over, through the export's part writer
(typed pages, one schema for every part: ``exports/formats/typed_parquet.py``); dlt's
(benchmarks/peer_clients/dlt_normalise.py) runs ``pipeline.run`` on the parsed records. Each in its own
process, interleaved; seconds of the work, records/s, peak RSS (dlt's worker processes too), and the rows
and columns each wrote.

    python benchmarks/normalise.py [--items 200000] [--runs 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent))

from child import peak_rss_mb, report, run_child  # noqa: E402

PEERS_PYTHON = Path(
    os.environ.get("AKINON_PEERS_PYTHON", HERE.parents[1] / ".venv" / "peers" / "bin" / "python")
)
PAGE = 1000


def write_items(path: Path, count: int) -> int:
    """At least ``count`` order items of the fake tenant, one JSON a line; the number written."""
    from airflow_provider_akinon.testing.data import AkinonData

    data = AkinonData(orders=count // 2 + 1, days=30)
    written = 0
    with path.open("wb") as out:
        for order in data.visible():
            for item in data.items_json(order):
                out.write(item + b"\n")
                written += 1
            if written >= count:
                return written
    return written


def ours(source: str) -> dict:
    """Child: the provider's part writer over typed pages of ``source``; seconds, RSS, rows, columns."""
    from datetime import UTC

    import pyarrow.parquet as pq

    from airflow_provider_akinon.compat import ObjectStoragePath
    from airflow_provider_akinon.exports.formats.parts import PartWriter
    from airflow_provider_akinon.exports.registry import format_named
    from airflow_provider_akinon.hooks.paging.records import Records
    from airflow_provider_akinon.resources import ORDER_ITEMS
    from airflow_provider_akinon.schema.contract import Contract

    parquet = format_named("parquet")
    with tempfile.TemporaryDirectory() as tmp:
        folder = ObjectStoragePath(f"file://{tmp}")
        started = time.perf_counter()
        shaper = parquet.shaper(ORDER_ITEMS, UTC, Contract())
        writer = PartWriter(folder, "s00000", parquet, ORDER_ITEMS, 256 * 1024 * 1024, UTC, shaper=shaper)
        with open(source, "rb") as handle:
            page: list[bytes] = []
            for line in handle:
                page.append(line.rstrip(b"\n"))
                if len(page) == PAGE:
                    writer.write(Records(raw=page))
                    page = []
            if page:
                writer.write(Records(raw=page))
        parts = shaper.finish(folder, writer.close())
        seconds = time.perf_counter() - started
        rss = peak_rss_mb()
        files = [Path(tmp) / p.name for p in parts]
        rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
        columns = len(pq.read_schema(files[0]))
    return {
        "seconds": seconds,
        "rss_mb": rss,
        "children_rss_mb": [],
        "tables": {"order_items": {"rows": rows, "columns": columns}},
    }


def run(items: int, runs: int) -> tuple[list[str], list[tuple[str, bool]]]:
    """The table of (g), as Markdown lines, and its targets (as fast as dlt, within its memory)."""
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "items.jsonl"
        count = write_items(source, items)
        results: dict[str, list[dict]] = {"this provider": [], "dlt": []}
        for _ in range(runs):
            results["this provider"].append(
                run_child(str(HERE), "--client", str(source), what="(g) this provider")
            )
            if PEERS_PYTHON.exists():
                done = subprocess.run(
                    [str(PEERS_PYTHON), str(HERE.parent / "peer_clients" / "dlt_normalise.py"), "--input", str(source)],
                    capture_output=True, text=True, timeout=1800,
                )  # fmt: skip
                lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
                if done.returncode or not lines:
                    raise RuntimeError(f"(g) dlt failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
                import json

                results["dlt"].append(json.loads(lines[-1][len("RESULT ") :]))
    lines = [
        f"\n(g) normalising {count:,} detailed order items into Parquet (typed, nested), {runs} interleaved runs",
        "| client | seconds | records/s | peak RSS MB (workers) | rows | tables: columns |",
        "|---|---|---|---|---|---|",
    ]
    for name, done in results.items():
        for result in done:
            tables = ", ".join(f"{t}: {v['columns']}" for t, v in result["tables"].items())
            workers = (
                f" ({', '.join(f'{m:.0f}' for m in result['children_rss_mb'])})"
                if result["children_rss_mb"]
                else ""
            )
            rows = result["tables"].get("order_items", {}).get("rows", 0)
            lines.append(
                f"| {name} | {result['seconds']:.2f} | {count / result['seconds']:,.0f} | "
                f"{result['rss_mb']:.0f}{workers} | {rows:,} | {tables} |"
            )
    return lines, targets(results, count)


def targets(results: dict[str, list[dict]], count: int) -> list[tuple[str, bool]]:
    """(g)'s targets: this provider's slowest run at least as fast as dlt's fastest, its peak RSS within
    dlt's (dlt's workers counted), and every row written by both."""
    ours, dlt = results["this provider"], results["dlt"]
    if not dlt:
        return [("(g) dlt measured (make bench installs it in .venv/peers)", False)]
    slowest, fastest = max(r["seconds"] for r in ours), min(r["seconds"] for r in dlt)
    peak = max(r["rss_mb"] for r in ours)
    theirs = min(max([r["rss_mb"], *r["children_rss_mb"]]) for r in dlt)
    rows = all(r["tables"]["order_items"]["rows"] == count for r in ours + dlt)
    return [
        (f"(g) normalising as fast as dlt ({fastest / slowest:.1f}x dlt's records/s)", slowest <= fastest),
        (f"(g) peak RSS within dlt's ({peak:.0f} MB against {theirs:.0f} MB)", peak <= theirs),
        ("(g) every item written, by both", rows),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--client", help="(child) this provider's side, on this JSON Lines file")
    args = parser.parse_args()
    if args.client:
        report(ours(args.client))
        return
    lines, checks = run(args.items, args.runs)
    print("\n".join(lines + [f"- {'met' if ok else 'MISSED'}: {label}" for label, ok in checks]))


if __name__ == "__main__":
    main()
