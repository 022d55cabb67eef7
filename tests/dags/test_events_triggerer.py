"""Event-driven exports with a real triggerer: new orders start a run that exports exactly them.

An API server, scheduler, dag-processor and triggerer (LocalExecutor, SQLite) run ``akinon_new_orders_events``
against the fake server. Orders inserted into the server fire the ``AssetWatcher``; its run exports exactly
those orders (with their items and discounts). The triggerer is then restarted: the new one resumes from
the watermark kept in the asset's state store, and the next orders are exported by a second run, so no
order is exported twice or lost.

Then events are held back, as the chaos soak found: while a run waits (its pool closed), two more orders
fire two events. Airflow gives the next run only the first of them and keeps no record of the second (it
would wait for yet another event); the run exports up to the newest order all the same, so the second
order is not left behind.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_akinon.exports import iter_export_records
from airflow_provider_akinon.testing import AkinonData
from tests.deployment import (
    Deployment,
    api_ready,
    on_fake_tenant,
)

pytestmark = [pytest.mark.scheduler, pytest.mark.timeout(900)]

airflow = pytest.importorskip("airflow")
if int(airflow.__version__.split(".")[0]) < 3:
    pytest.skip("event-driven scheduling (AssetWatcher) needs Airflow 3", allow_module_level=True)

DAG_ID = "akinon_new_orders_events"


def exported(base: Path, resource: str, key: str) -> dict[str, list[int]]:
    """Each exported id-range partition of ``resource`` and the keys it holds."""
    root = base / "akinon" / "events" / resource
    if not root.exists():
        return {}
    return {
        folder.name: [record[key] for record in iter_export_records(str(folder))]
        for folder in sorted(root.iterdir())
        if (folder / "_manifest.json").exists()
    }


def test_new_orders_start_runs_that_export_exactly_them_across_a_triggerer_restart(tmp_path):
    data = AkinonData(orders=60, start="2026-01-01", days=3, seed=29)
    with on_fake_tenant(
        tmp_path,
        data,
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD="10",
        AKINON_EVENTS_POLL_SECONDS="1",
    ) as (deployment, server, base, port):
        deployment.prepare(DAG_ID, pool_slots=4)
        for component in ("api-server", "scheduler", "dag-processor", "triggerer"):
            deployment.start(component, component)

        def runs_succeeded(n: int):
            rows = deployment.query("SELECT state FROM dag_run WHERE dag_id = ?", DAG_ID)
            if any(state == "failed" for (state,) in rows):
                pytest.fail(f"a run failed\n{deployment.logs()}")
            return len(rows) == n and all(state == "success" for (state,) in rows)

        try:
            deployment.wait_for("the API server", lambda: api_ready(port))
            deployment.wait_for(
                "the watcher to start at the newest order",
                lambda: "Watching orders of akinon_default after id 60" in deployment.log("triggerer", 10**6),
            )
            first = [server.data.insert_order() for _ in range(7)]
            deployment.wait_for("the first run", lambda: runs_succeeded(1))

            deployment.kill("triggerer")  # restarted: the watermark must survive it
            deployment.start("triggerer-2", "triggerer")
            deployment.wait_for(
                "the restarted watcher to resume after the first orders",
                lambda: f"after id {first[-1]}" in deployment.log("triggerer-2", 10**6),
            )
            second = [server.data.insert_order() for _ in range(5)]
            deployment.wait_for("the second run", lambda: runs_succeeded(2))

            deployment.cli("pools", "set", "akinon_api", "0", "Akinon API")  # the third run's exports wait
            third = [server.data.insert_order()]
            deployment.wait_for("the third run to choose its range", lambda: range_chosen(deployment, 3))
            held = []
            for _ in range(2):  # two events while the DAG is at max_active_runs
                held.append(server.data.insert_order())
                deployment.wait_for(
                    f"the event of order {held[-1]}",
                    lambda: (
                        f"New orders {held[-1]}..{held[-1]} fired" in deployment.log("triggerer-2", 10**6)
                    ),
                )
            deployment.cli("pools", "set", "akinon_api", "4", "Akinon API")
            deployment.wait_for("the fourth run", lambda: runs_succeeded(4))
        finally:
            deployment.stop()

    orders = exported(base, "orders", "id")
    assert orders == {
        f"ids={first[0]}-{first[-1]}": first,
        f"ids={second[0]}-{second[-1]}": second,
        f"ids={third[0]}-{third[0]}": third,
        f"ids={held[0]}-{held[-1]}": held,  # the held-back event's order too
    }
    for resource, pks in (("order_items", data.item_pks), ("discount_items", data.discount_pks)):
        assert exported(base, resource, "pk") == {
            name: [pk for order in ids for pk in pks(order)] for name, ids in orders.items()
        }, resource


def range_chosen(deployment: Deployment, runs: int) -> bool:
    """``runs`` runs exist and the newest has chosen its id range (its export now waits for the pool)."""
    rows = deployment.query(
        "SELECT ti.state FROM task_instance ti JOIN dag_run r ON r.run_id = ti.run_id AND r.dag_id = ti.dag_id "
        "WHERE ti.dag_id = ? AND ti.task_id = 'id_range' ORDER BY r.run_after",
        DAG_ID,
    )
    return len(rows) == runs and rows[-1][0] == "success"
