"""A real Airflow 2.11 backfill of three days, the deferrable sensor going through the 2.11 triggerer.

``airflow dags backfill`` (Airflow 2's backfill job, SequentialExecutor on SQLite) runs the example DAG over
three days while ``airflow triggerer`` runs beside it. Days 1 and 2 are closed (later orders exist), so
their sensors pass at once; day 3 is the newest day of data, so its sensor defers and waits in the
triggerer until this test adds an order of day 4. The backfill must succeed and the nine exports must
hold exactly the server's records.
"""

from __future__ import annotations

import re

import pytest

from airflow_provider_akinon.testing import AkinonData
from airflow_provider_akinon.testing.data import parse_ts
from tests.deployment import assert_daily_partitions, on_fake_tenant

pytestmark = [pytest.mark.scheduler, pytest.mark.timeout(900)]

airflow = pytest.importorskip("airflow")
if int(airflow.__version__.split(".")[0]) != 2:
    pytest.skip(
        "Airflow 2's backfill job and triggerer; Airflow 3 has test_backfill_scheduler",
        allow_module_level=True,
    )

DAG_ID = "akinon_daily_export"


def test_backfill_of_three_days_with_the_airflow_2_triggerer(tmp_path):
    data = AkinonData(orders=300, start="2026-01-01", days=3, seed=11)
    airflow_2 = {
        "AIRFLOW__CORE__EXECUTOR": "SequentialExecutor",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
        "AKINON_POLL_SECONDS": "1",
    }
    with on_fake_tenant(tmp_path, data, api_server=False, **airflow_2) as (deployment, server, base, _):
        deployment.prepare(DAG_ID, pool_slots=4, reserialize=False)
        deployment.start("triggerer", "triggerer")
        backfill = deployment.start(
            "backfill", "dags", "backfill", "--start-date", "2026-01-01", "--end-date", "2026-01-03", DAG_ID
        )
        try:
            deployment.wait_for(
                "the day-3 sensor to defer to the triggerer",
                lambda: deployment.query(
                    "SELECT state FROM task_instance WHERE dag_id = ? AND task_id = 'wait_for_day_to_close' "
                    "AND state = 'deferred' AND run_id LIKE '%2026-01-03%'",
                    DAG_ID,
                ),
            )
            server.data.insert_order(created=parse_ts("2026-01-04T00:30:00"))  # the day closes
            deployment.wait_for("the backfill to end", lambda: backfill.poll() is not None)
            assert backfill.returncode == 0, deployment.logs()
            states = deployment.query(
                "SELECT state FROM dag_run WHERE dag_id = ? AND run_type = 'backfill'", DAG_ID
            )
            fired = deployment.query(
                "SELECT state, next_method FROM task_instance WHERE dag_id = ? "
                "AND task_id = 'wait_for_day_to_close' AND run_id LIKE '%2026-01-03%'",
                DAG_ID,
            )
            deployment.assert_clean_task_logs()
        finally:
            deployment.stop()
        assert sorted(s for (s,) in states) == ["success"] * 3
        assert fired == [("success", None)], fired
        fired_in_triggerer = re.search(
            r"trigger akinon_daily_export/backfill__2026-01-03\S*/wait_for_day_to_close/-1/1 \(ID \d+\) completed",
            deployment.log("triggerer", 200_000),
        )
        assert fired_in_triggerer, deployment.log("triggerer")

    assert_daily_partitions(base, data, range(1, 4))
