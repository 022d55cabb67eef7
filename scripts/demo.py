"""`make demo`: the daily export DAG over three days, against the bundled fake Akinon, into ./out/.

No network and no credentials: a fake Akinon tenant (4 days of orders) runs on loopback, Airflow runs
the example DAG ``akinon_daily_export`` with ``dag.test()`` once per day, and a table shows what each
window exported and where the files are.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "out"
HOME = ROOT / ".venv" / "demo-airflow-home"
DAYS = ("2026-01-01", "2026-01-02", "2026-01-03")
RESOURCES = ("orders", "order_items", "discount_items")


def configure_airflow() -> None:
    HOME.mkdir(parents=True, exist_ok=True)
    os.environ.update(
        {
            "AIRFLOW_HOME": str(HOME),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{HOME}/airflow.db",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
            "AIRFLOW_VAR_AKINON_EXPORT_BASE": str(OUT),
        }
    )
    print("Preparing Airflow's metadata database ...", flush=True)
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True)


def main() -> None:
    configure_airflow()
    warnings.filterwarnings("ignore")
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 2
        from airflow.models.dagbag import DagBag

    from airflow_provider_akinon.exports import read_manifest
    from airflow_provider_akinon.testing import AkinonData, FakeAkinonServer

    dag = DagBag(str(ROOT / "dags")).dags["akinon_daily_export"]
    with FakeAkinonServer(AkinonData(orders=1600, start="2026-01-01", days=4), keep_log=False) as server:
        os.environ["AIRFLOW_CONN_AKINON_DEFAULT"] = server.connection_json()
        print(
            f"Fake Akinon at {server.url}; exporting {DAYS[0]} .. {DAYS[-1]} into {OUT}/akinon/\n", flush=True
        )
        rows = []
        for day in DAYS:
            run_date = datetime.fromisoformat(day).replace(tzinfo=UTC) + timedelta(days=1)
            started = time.monotonic()
            logging.disable(logging.INFO)
            try:
                run = dag.test(logical_date=run_date)
            except TypeError:  # Airflow 2
                run = dag.test(execution_date=run_date)
            finally:
                logging.disable(logging.NOTSET)
            seconds = time.monotonic() - started
            counts = []
            for resource in RESOURCES:
                manifest = read_manifest(str(OUT / "akinon" / resource / f"date={day}"))
                counts.append((manifest["records"], len(manifest["files"])))
            rows.append((day, str(run.state).split(".")[-1], counts, seconds))

    header = (
        f"{'window (UTC day)':<17}{'state':<9}"
        + "".join(f"{r + ' (files)':>24}" for r in RESOURCES)
        + f"{'seconds':>9}"
    )
    print(header)
    print("-" * len(header))
    for day, state, counts, seconds in rows:
        cells = "".join(f"{f'{n:,} ({files})':>24}" for n, files in counts)
        print(f"{day:<17}{state:<9}{cells}{seconds:>9.1f}")
    print(f"\nFiles: {OUT}/akinon/<resource>/date=<day>/part-*.jsonl + _manifest.json")
    print(f"e.g.   {OUT}/akinon/orders/date={DAYS[0]}/_manifest.json")
    if any(state != "success" for _, state, _, _ in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
