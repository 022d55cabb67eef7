"""`make bench` peers: dlt's ``rest_api`` source into its ``filesystem`` destination (JSON Lines or Parquet).

Runs in the peers' venv (``.venv/peers``, made by ``make bench``), one export per process, and prints
``RESULT {json}`` (benchmarks/child.py's ``report``) with the seconds of the work itself (login and
``pipeline.run``; imports excluded), the requests made, the process's own peak RSS, the peaks of its
child processes (dlt's normalize workers, polled from /proc), and the ids written, read back after the
peaks are taken, for the driver (benchmarks/peers.py) to check against the server's truth.

Configured as dlt's docs say for a Django REST Framework list: token login first, then the header
``Authorization: Token <key>`` (an ``api_key`` auth), records under ``results``, the ``json_link``
paginator on ``next``, the window as query parameters, 1,000 records a page (what this provider asks by
default). Two settings:

- ``default``: dlt's defaults: one resource, sequential pages, nested objects flattened into columns
  (``customer__email``, ...), one normalize worker (in the main process), no file rotation, compressed
  files (JSON Lines are written ``.jsonl.gz``, dlt's default).
- ``best``: what made dlt fastest here (benchmarks/peers.py says which per case): nested objects kept
  whole as JSON (``max_table_nesting=0``, as the record came: flattening was about half of the normalize
  step), uncompressed files, extract and normalize files rotated every ``--rotate`` items so that
  ``--normalize-workers`` processes (``normalize.workers``) have files to share, and the window split into
  ``--parts`` consecutive sub-windows, one ``parallelized`` resource each (as many extract workers) of one
  table.

Usage: python dlt_rest_api.py --url URL --format jsonl|parquet --setting default|best [--parts 2]
       [--normalize-workers 2]

Usage: python dlt_rest_api.py --url URL --format jsonl|parquet --setting default|best [--parts 8]
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import os
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/child.py (stdlib only)
from child import peak_rss_mb, report

WINDOW = ("2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z")
LIMIT = 1000
#: best: nested objects kept whole as JSON (as the record came), not flattened into columns
BEST_NESTING = 0


class ChildPeaks(threading.Thread):
    """Polls /proc for this process's children and keeps each one's own high-water mark (VmHWM)."""

    def __init__(self, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.interval, self.peaks, self.done = interval, {}, threading.Event()
        self.me = str(os.getpid())

    def run(self) -> None:
        while not self.done.wait(self.interval):
            self.poll()

    def poll(self) -> None:
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or pid == self.me:
                continue
            try:
                with open(f"/proc/{pid}/status") as status:
                    fields = dict(line.split(":", 1) for line in status if ":" in line)
            except OSError:
                continue
            if fields.get("PPid", "").strip() == self.me and "VmHWM" in fields:
                hwm = int(fields["VmHWM"].split()[0]) / 1024
                self.peaks[pid] = max(self.peaks.get(pid, 0.0), hwm)

    def stop(self) -> list[float]:
        self.done.set()
        self.join()
        return sorted(self.peaks.values(), reverse=True)


def configure(setting: str, rotate: int, workers: int, normalizers: int, out: Path) -> None:
    """dlt's configuration, through its environment variables (before dlt is imported)."""
    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"  # no network here
    os.environ["RUNTIME__LOG_LEVEL"] = "WARNING"
    os.environ["DLT_DATA_DIR"] = str(out / "dlt_data")
    if setting == "best":
        os.environ["EXTRACT__WORKERS"] = str(workers)
        os.environ["NORMALIZE__WORKERS"] = str(normalizers)
        os.environ["SOURCES__DATA_WRITER__FILE_MAX_ITEMS"] = str(rotate)  # extract files rotated
        os.environ["NORMALIZE__DATA_WRITER__FILE_MAX_ITEMS"] = str(rotate)  # load files rotated
        os.environ["DATA_WRITER__DISABLE_COMPRESSION"] = "true"


def windows(start: str, end: str, parts: int) -> list[tuple[str, str]]:
    """``parts`` consecutive sub-windows of [start, end), half-open, covering it exactly."""
    lo, hi = (datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp() for t in (start, end))
    cuts = [lo + (hi - lo) * i / parts for i in range(parts)] + [hi]
    iso = [datetime.fromtimestamp(c, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") for c in cuts]
    iso[0], iso[-1] = start, end
    return list(itertools.pairwise(iso))


def export(args: argparse.Namespace, out: Path) -> dict:
    import dlt
    import requests
    from dlt.destinations import filesystem
    from dlt.sources.helpers.rest_client.paginators import JSONLinkPaginator
    from dlt.sources.rest_api import rest_api_source

    if args.format == "parquet":
        import pyarrow.parquet  # noqa: F401 - imported before the clock, as the provider's are

    requests_made = [0]
    lock = threading.Lock()

    class CountingJSONLinkPaginator(JSONLinkPaginator):
        """dlt's ``json_link`` paginator on ``next``, counting the answers it reads (the requests)."""

        def update_state(self, response, data=None) -> None:
            with lock:
                requests_made[0] += 1
            super().update_state(response, data)

    parts = windows(args.start, args.end, args.parts)
    peaks = ChildPeaks() if os.environ.get("NORMALIZE__WORKERS", "1") != "1" else None
    if peaks:  # only where dlt has child processes: the polling costs the parent some CPU
        peaks.start()
    started = time.perf_counter()
    key = requests.post(
        f"{args.url}/api/v1/auth/login/", json={"username": "akinon", "password": "s3cret-Pa55"}, timeout=60
    ).json()["key"]
    resources = [
        {
            "name": f"orders_{i}" if len(parts) > 1 else "orders",
            "table_name": "orders",
            **({"parallelized": True} if len(parts) > 1 else {}),
            "endpoint": {
                "path": "orders/",
                "params": {"created_date__gte": lo, "created_date__lt": hi, "sort": "id", "limit": LIMIT},
                "data_selector": "results",
                "paginator": CountingJSONLinkPaginator(next_url_path="next"),
            },
        }
        for i, (lo, hi) in enumerate(parts)
    ]
    source = rest_api_source(
        {
            "client": {
                "base_url": f"{args.url}/api/v1/",
                "auth": {
                    "type": "api_key",
                    "name": "Authorization",
                    "api_key": f"Token {key}",
                    "location": "header",
                },
            },
            "resources": resources,
        },
        max_table_nesting=args.nesting,
    )
    pipeline = dlt.pipeline(
        pipeline_name="akinon_orders",
        destination=filesystem(bucket_url=(out / "lake").as_uri()),
        dataset_name="akinon",
        pipelines_dir=str(out / "pipelines"),
    )
    pipeline.run(source, loader_file_format=args.format)
    seconds = time.perf_counter() - started
    children = peaks.stop() if peaks else []
    steps = {s.step: (s.finished_at - s.started_at).total_seconds() for s in pipeline.last_trace.steps}
    rss = peak_rss_mb()
    ids = read_ids(out / "lake" / "akinon" / "orders", args.format)  # after the peaks
    return {
        "seconds": seconds,
        "records": len(ids),
        "pages": requests_made[0],
        "rss_mb": rss,
        "children_rss_mb": children,
        "steps": steps,
        "ids": ids,
    }


def read_ids(folder: Path, file_format: str) -> list[int]:
    """The ids of every record the export wrote, in file order (duplicates kept)."""
    ids: list[int] = []
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    if file_format == "parquet":
        import pyarrow.parquet as pq

        for path in files:
            ids += pq.read_table(path, columns=["id"]).column("id").to_pylist()
        return ids
    import orjson

    for path in files:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as handle:
            ids += [orjson.loads(line)["id"] for line in handle if line.strip()]
    return ids


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--format", default="jsonl", choices=("jsonl", "parquet"))
    parser.add_argument("--setting", default="default", choices=("default", "best"))
    parser.add_argument("--parts", type=int, default=1, help="best: parallelized resources (sub-windows)")
    parser.add_argument("--rotate", type=int, default=20_000, help="best: items per intermediary file")
    parser.add_argument("--nesting", type=int, default=None, help="max_table_nesting (best: 0)")
    parser.add_argument("--normalize-workers", type=int, default=2, help="best: normalize processes")
    parser.add_argument("--start", default=WINDOW[0])
    parser.add_argument("--end", default=WINDOW[1])
    args = parser.parse_args()
    best = args.setting == "best"
    args.parts = args.parts if best else 1
    args.nesting = (BEST_NESTING if args.nesting is None else args.nesting) if best else None
    with tempfile.TemporaryDirectory() as tmp:
        configure(args.setting, args.rotate, args.parts, args.normalize_workers, Path(tmp))
        report(export(args, Path(tmp)))


if __name__ == "__main__":
    main()
