"""`make bench` against the peers a data team would pick instead: dlt and a Singer tap (Meltano's SDK).

Each peer runs in its own process, in the peers' own venv (``.venv/peers``: ``make bench`` and
``make bench-peers`` make it, pinned), against the same fake server and window as benchmarks/bench.py:
(a) 200,000 orders, no latency; (b) 20,000 orders, 20 ms per request. The peer clients live in
benchmarks/peer_clients/ (one script each) and report, as bench.py's clients do, the seconds of the work
itself, the requests, their own peak RSS (VmHWM) and their child processes' peaks; and the ids they wrote,
read back from their output, which this driver checks against the server's truth: the sorted ids equal
the ids of the window's orders, none doubled. A peer that loses or doubles records is named, with the
ids.

Called by bench.py (``run``), after its own (a) and (b), with this provider's results; or alone
(``python benchmarks/peers.py [--quick]``, ``make bench-peers``): it then measures this provider too, in
the same servers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from pathlib import Path

from bench import WINDOW, Server, measure, row

HERE = Path(__file__).resolve()
CLIENTS = HERE.parent / "peer_clients"
PYTHON = Path(os.environ.get("AKINON_PEERS_PYTHON", HERE.parents[1] / ".venv" / "peers" / "bin" / "python"))
MARK = "RESULT "

HEADER = (
    "| client | records | seconds | records/s | pages/s | peak RSS MB | vs baseline |\n" + "|" + "---|" * 7
)
DLT_DEFAULT = ("dlt_rest_api.py", "--setting", "default")
#: dlt's best setting found here (benchmarks/peer_clients/dlt_rest_api.py: nested objects kept as JSON,
#: uncompressed, files rotated every 20,000 items), per case: the window as 2 parallelized resources (8 did
#: no better: dlt is CPU-bound even at 20 ms a request), 2 normalize workers at 200,000 orders (normalize
#: 15 -> 11 s) but 1 at 20,000 (the process pool's start-up costs more than it saves)
DLT_BEST_A = ("dlt_rest_api.py", "--setting", "best", "--parts", "2", "--normalize-workers", "2")
DLT_BEST_B = ("dlt_rest_api.py", "--setting", "best", "--parts", "2", "--normalize-workers", "1")
SINGER = ("singer_tap.py", "run")


def run_peer(script: str, *args: str, url: str) -> dict | str:
    """One peer's export in the peers' venv: its result, or why it did not run."""
    if not PYTHON.exists():
        return f"not installed ({PYTHON} missing: `make bench` or `make bench-peers` makes it)"
    done = subprocess.run(
        [str(PYTHON), str(CLIENTS / script), *args, "--url", url],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith(MARK)]
    if done.returncode or not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        return f"failed: {tail[0][:200]}"
    result = json.loads(lines[-1][len(MARK) :])
    result["records_per_s"] = result["records"] / result["seconds"]
    result["pages_per_s"] = result["pages"] / result["seconds"]
    return result


def truth(orders: int, window: tuple[str, str] = WINDOW) -> list[int]:
    """The ids of the window's orders, ascending, as the server (bench.py's ``Server``) holds them."""
    from airflow_provider_akinon.testing.data import AkinonData, parse_ts

    data = AkinonData(orders)  # the server's defaults: from 2026-01-01, 3 days, seed 1
    lo, hi = parse_ts(window[0]), parse_ts(window[1])
    return [i for i, c in zip(data.ids, data.created, strict=True) if lo <= c < hi and i not in data.deleted]


def exactness(ids: list[int], expected: list[int]) -> dict:
    """Whether ``ids`` (as written, duplicates kept) are exactly ``expected``; where not, which ids."""
    seen: set[int] = set()
    doubled = sorted({i for i in ids if i in seen or seen.add(i)})
    wanted = set(expected)
    return {
        "exact": sorted(ids) == expected,
        "written": len(ids),
        "distinct": len(seen),
        "lost": sorted(wanted - seen),
        "doubled": doubled,
        "foreign": sorted(seen - wanted),
    }


def ids_said(ids: list[int]) -> str:
    shown = ", ".join(str(i) for i in ids[:5])
    return f"{len(ids):,} ({shown}{', ...' if len(ids) > 5 else ''})" if ids else "0"


def measure_peers(server: Server, peers: list[tuple[str, tuple[str, ...]]], expected: list[int]) -> dict:
    """Each peer against ``server``: label -> result (with its ``check``) or why it did not run."""
    results: dict[str, dict | str] = {}
    for label, (script, *args) in peers:
        print(f"    {label} ...", flush=True)
        result = run_peer(script, *args, url=server.url)
        if isinstance(result, dict):
            result["check"] = exactness(result.pop("ids"), expected)
        results[label] = result
    return results


def table(results: dict[str, dict | str], baselines: dict[str, tuple[str, dict]]) -> list[str]:
    """bench.py's rows; ``baselines``: a label's format -> this provider's row in that format."""
    lines, shown = [], set()
    for label, result in results.items():
        base_label, base = next(b for fmt, b in baselines.items() if fmt in label)
        if base_label not in shown:
            shown.add(base_label)
            lines.append(row(base_label, base, None))
        if isinstance(result, str):
            lines.append(f"| {label} | {result} | | | | | |")
        else:
            lines.append(row(label, result, base))
    return lines


def checks_table(case: str, results: dict[str, dict | str]) -> list[str]:
    lines = []
    for label, result in results.items():
        if isinstance(result, str):
            lines.append(f"| {case} | {label} | did not run | | | | | |")
            continue
        check, children = result["check"], result.get("children_rss_mb") or []
        verdict = "exact" if check["exact"] else "**NOT exact**"
        if check["foreign"]:
            verdict += f", {ids_said(check['foreign'])} outside the window"
        kids = " + ".join(f"{mb:.0f}" for mb in children) if children else "none"
        lines.append(
            f"| {case} | {label} | {verdict} | {check['written']:,} | {ids_said(check['lost'])} | "
            f"{ids_said(check['doubled'])} | {result['rss_mb']:.0f} / {kids} | "
            f"{result['rss_mb'] + sum(children):.0f} |"
        )
    return lines


def best_of(results: dict[str, dict | str], *labels: str) -> dict | None:
    """The fastest of the labelled results that ran (None: none ran)."""
    ran = [results[label] for label in labels if isinstance(results.get(label), dict)]
    return min(ran, key=lambda r: r["seconds"]) if ran else None


def targets(a: dict, b: dict, a_jsonl: dict, a_parquet: dict, b8: dict) -> list[tuple[str, bool]]:
    """The targets against the peers, as bench.py prints its own."""

    def times(ours: dict, theirs: dict | None) -> float:
        return theirs["seconds"] / ours["seconds"] if theirs else 0.0

    b_best = best_of(b, *B_DLT)
    a_dlt_jsonl = best_of(a, A_DLT[0], A_DLT[1])
    a_dlt_parquet = best_of(a, A_DLT[2], A_DLT[3])
    b_x, j_x, p_x = times(b8, b_best), times(a_jsonl, a_dlt_jsonl), times(a_parquet, a_dlt_parquet)
    default_jsonl, default_parquet = a.get(A_DLT[0]), a.get(A_DLT[2])
    memory = [
        (ours["rss_mb"], theirs["rss_mb"] + sum(theirs.get("children_rss_mb") or []))
        for ours, theirs in ((a_jsonl, default_jsonl), (a_parquet, default_parquet))
        if isinstance(theirs, dict)
    ]
    said = ", ".join(f"{o:.0f} vs {t:.0f} MB" for o, t in memory) or "dlt did not run"
    return [
        (f"(b) provider at least 10x the best dlt setting ({b_x:.1f}x)", b_x >= 10),
        (
            f"(a) JSON Lines and Parquet at least 10x dlt, same format (JSON Lines {j_x:.1f}x, "
            f"Parquet {p_x:.1f}x, against dlt's faster setting)",
            j_x >= 10 and p_x >= 10,
        ),
        (
            f"(a) provider peak memory under dlt's with its defaults, same format ({said})",
            len(memory) == 2 and all(o < t for o, t in memory),
        ),
    ]


A_DLT = (
    "dlt rest_api, defaults, JSON Lines",
    "dlt rest_api, best, JSON Lines",
    "dlt rest_api, defaults, Parquet",
    "dlt rest_api, best, Parquet",
)
B_DLT = ("dlt rest_api, defaults, JSON Lines", "dlt rest_api, best, JSON Lines")
SINGER_LABEL = "Singer SDK tap piped to a JSON Lines target"


def run(
    big: int, small: int, a_jsonl: dict | None = None, a_parquet: dict | None = None, b8: dict | None = None
) -> tuple[list[str], list[tuple[str, bool]]]:
    """The peers' tables and targets; this provider's results are measured here where not given."""
    print(f"(peers) {big:,} orders, no latency ...", flush=True)
    server = Server(big, 0.0)
    try:
        if a_jsonl is None:
            a_jsonl, a_parquet = (
                measure(server, "provider", 4),
                measure(server, "provider", 4, file_format="parquet"),
            )
        a = measure_peers(
            server,
            [
                (A_DLT[0], (*DLT_DEFAULT, "--format", "jsonl")),
                (A_DLT[1], (*DLT_BEST_A, "--format", "jsonl")),
                (SINGER_LABEL, SINGER),
                (A_DLT[2], (*DLT_DEFAULT, "--format", "parquet")),
                (A_DLT[3], (*DLT_BEST_A, "--format", "parquet")),
            ],
            truth(big),
        )
    finally:
        server.stop()
    print(f"(peers) {small:,} orders, 20 ms latency ...", flush=True)
    server = Server(small, 0.02)
    try:
        if b8 is None:
            b8 = measure(server, "provider", 8)
        b = measure_peers(
            server,
            [
                (B_DLT[0], (*DLT_DEFAULT, "--format", "jsonl")),
                (B_DLT[1], (*DLT_BEST_B, "--format", "jsonl")),
                (SINGER_LABEL, SINGER),
            ],
            truth(small),
        )
    finally:
        server.stop()
    a_base = {
        "JSON Lines": ("this provider, JSON Lines", a_jsonl),
        "Parquet": ("this provider, Parquet", a_parquet),
    }
    b_base = {"": ("this provider, max_concurrency 8", b8)}
    lines = [
        f"\n(peers a) {big:,} orders, no server latency, 1,000-record pages for every client; "
        "baseline: this provider in the same format",
        HEADER,
        *table(a, a_base),
        f"\n(peers b) {small:,} orders, 20 ms latency per request; baseline: this provider, max_concurrency 8",
        HEADER,
        *table(b, b_base),
        "\n(peers) each peer's output read back: its ids against the server's (sorted, none doubled); "
        "peak RSS of the process / of its child processes (dlt's normalize workers, the Singer target)",
        "| case | client | output | records written | lost | doubled | peak RSS MB: process / children | sum |",
        "|---|---|---|---|---|---|---|---|",
        *checks_table("(a)", a),
        *checks_table("(b)", b),
    ]
    return lines, targets(a, b, a_jsonl, a_parquet, b8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10x smaller, for a smoke run")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    lines, checks = run(200_000 // scale, 20_000 // scale)
    machine = platform.processor() or platform.machine()
    print(
        f"Machine: {machine}, {os.cpu_count()} cores, Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}"
    )
    print("\n".join(lines))
    print("\nTargets:")
    print("\n".join(f"- {'met' if ok else 'MISSED'}: {label}" for label, ok in checks))


if __name__ == "__main__":
    main()
