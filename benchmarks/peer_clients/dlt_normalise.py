"""(g), dlt's side: normalise order items from a JSON Lines file into Parquet with dlt, as its docs say.

``dlt.pipeline(...).run(records, table_name="order_items", loader_file_format="parquet")`` to a
``filesystem`` destination, dlt's defaults (nested dicts flattened into columns, lists into child tables).
Prints ``RESULT {json}``: the seconds of the run (the file read included, imports excluded), this process's
peak RSS and its children's, and the rows of each table written.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from child import peak_rss_mb, report
from dlt_rest_api import ChildPeaks


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
        os.environ["RUNTIME__LOG_LEVEL"] = "WARNING"
        os.environ["DLT_DATA_DIR"] = str(out / "dlt_data")
        import dlt
        import orjson
        import pyarrow.parquet as pq
        from dlt.destinations import filesystem

        def records():
            with open(args.input, "rb") as handle:
                for line in handle:
                    yield orjson.loads(line)

        peaks = ChildPeaks()
        peaks.start()
        started = time.perf_counter()
        pipeline = dlt.pipeline(
            pipeline_name="akinon_items",
            destination=filesystem(bucket_url=(out / "lake").as_uri()),
            dataset_name="akinon",
            pipelines_dir=str(out / "pipelines"),
        )
        pipeline.run(records(), table_name="order_items", loader_file_format="parquet")
        seconds = time.perf_counter() - started
        children = peaks.stop()
        rss = peak_rss_mb()
        tables = {}
        for folder in sorted((out / "lake" / "akinon").iterdir()):
            if folder.is_dir() and not folder.name.startswith("_dlt"):
                parts = [p for p in folder.rglob("*.parquet")]
                tables[folder.name] = {
                    "rows": sum(pq.ParquetFile(p).metadata.num_rows for p in parts),
                    "columns": len(pq.read_schema(parts[0])) if parts else 0,
                }
    report({"seconds": seconds, "rss_mb": rss, "children_rss_mb": children, "tables": tables})


if __name__ == "__main__":
    main()
