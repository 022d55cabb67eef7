"""Storms on real storage: runs exporting one window into one place, killed, paused past their lease and
restarted at random, while a reader checks every export it finds; then one clean run leaves it tidy."""

from __future__ import annotations

import contextlib
import importlib
import os
import random
import signal
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson
import pytest

from airflow_provider_akinon.compat import AIRFLOW_V3
from airflow_provider_akinon.exports import destination_path, iter_export_records, read_manifest
from airflow_provider_akinon.exports.commit.lease import LEASE, STAGING, LeaseState
from airflow_provider_akinon.exports.commit.store import store_for
from airflow_provider_akinon.operators.akinon import FetchOrdersOperator

# A storm tests the commit protocol under concurrency; the store calls it rests on are tested on both
# Airflow lines (test_publish, test_target), so the storms run once, on Airflow 3's run of the suite.
pytestmark = pytest.mark.skipif(not AIRFLOW_V3, reason="the protocol's storms run on the Airflow 3 run")

DAY = {"start": "2026-01-02T00:00:00Z", "end": "2026-01-03T00:00:00Z"}
LAYOUTS = [
    {"page_size": 10, "max_file_bytes": 6_000},
    {"page_size": 25},
    {"page_size": 7, "max_file_bytes": 12_000},
]
#: a storm blows at least this long, and on until it has done what the test asserts, at most ``CAP`` s
FLOOR, CAP = 45.0, 300.0


def forked(body) -> int:
    """``body()`` in a forked child (everything imported already); its pid. The child never returns."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            for module in (
                "airflow.sdk.io.store",
                "airflow.io.store",
            ):  # a file system per connection, cached
                with contextlib.suppress(ImportError):  # by Airflow: the parent's is not the child's to use
                    importlib.import_module(module)._STORE_CACHE.clear()
            body()
        except BaseException:
            traceback.print_exc()
            code = 1
        finally:
            os._exit(code)
    return pid


def exporting(dest: str, layout: dict) -> None:
    """Export the window again and again; an export that fails (its lease taken over) is just tried again."""
    while True:
        try:
            FetchOrdersOperator(task_id="o", destination=dest, **DAY, **layout).execute({})
        except Exception as err:
            print(f"[{os.getpid()}] export failed: {type(err).__name__}: {err}", flush=True)


def reading(dest: str, expected: list[int], log: str) -> None:
    """Read every export found, whole, against the window's records; write what was seen to ``log``."""
    with open(log, "ab", buffering=0) as out:
        while True:
            try:
                manifest = read_manifest(dest)
                ids = sorted(r["id"] for r in iter_export_records(dest))
                seen = {
                    "version": manifest["version"],
                    "ok": ids == expected and len(ids) == manifest["records"],
                }
            except Exception as err:
                seen = {"error": f"{type(err).__name__}: {err}"}
            out.write(orjson.dumps(seen) + b"\n")


@dataclass
class Storm:
    """Runs killed (SIGKILL) or paused past the lease (SIGSTOP) and restarted at random, seeded and logged."""

    dest: str
    runs: int
    seed: int
    events: list[str] = field(default_factory=list)
    pids: dict[int, int] = field(default_factory=dict)

    def start(self, slot: int) -> None:
        self.pids[slot] = forked(lambda: exporting(self.dest, LAYOUTS[slot % len(LAYOUTS)]))

    def blow(self, lacking: Callable[[], str | None], *, floor: float = FLOOR, cap: float = CAP) -> None:
        """Kill and pause runs for at least ``floor`` seconds and until nothing is ``lacking()`` (what the
        test needs to have happened, or ``None``): its strength is the same on a slow machine, only longer.
        After ``cap`` seconds it fails, saying what is still lacking."""
        rng = random.Random(self.seed)
        for slot in range(self.runs):
            self.start(slot)
        start = time.monotonic()
        while (missing := lacking()) is not None or time.monotonic() - start < floor:
            if time.monotonic() - start > cap:
                raise AssertionError(
                    f"the storm did too little to prove much in {cap:g} s: {missing}\n"
                    f"seed {self.seed}; events:\n" + "\n".join(self.events)
                )
            time.sleep(rng.uniform(0.3, 1.2))  # the chaos loop's own pace, not a synchronisation
            slot = rng.randrange(self.runs)
            pid = self.pids[slot]
            if rng.random() < 0.35:  # paused past its lease (1 s): it wakes up as a zombie
                pause = rng.uniform(1.2, 2.5)
                self.events.append(f"{time.monotonic():.1f} pause run {slot} ({pid}) {pause:.1f} s")
                os.kill(pid, signal.SIGSTOP)
                time.sleep(pause)
                os.kill(pid, signal.SIGCONT)
            else:
                self.events.append(f"{time.monotonic():.1f} kill run {slot} ({pid})")
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                self.start(slot)

    def calm(self) -> None:
        for pid in self.pids.values():
            os.kill(pid, signal.SIGCONT)
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


def tidy(dest: str, expected: list[int]) -> None:
    """One clean run succeeds, then the place holds exactly its export: a free lease, no staging."""
    store = store_for(destination_path(dest), "_akinon/staging/tidy/")
    time.sleep(1.5)  # the clean run starts once the stopped runs' heartbeats are older than the lease (1 s)
    summary = FetchOrdersOperator(task_id="o", destination=dest, **DAY, page_size=30).execute({})
    manifest = read_manifest(dest)
    assert summary["records"] == manifest["records"] == len(expected)
    assert sorted(r["id"] for r in iter_export_records(dest)) == expected
    top = {entry.key.rstrip("/") for entry in store.listing("")}
    assert top == {"_manifest.json", "_akinon", *(f["name"] for f in manifest["files"])}
    lease = LeaseState.decode(store.read(LEASE).data)
    assert (lease.holder, lease.intent, lease.commit) == (None, None, None)
    assert store.listing(STAGING, recursive=True) == []


def logged(log: str) -> list[dict]:
    """What the reader wrote to ``log``, whole lines only (it may be writing one)."""
    try:
        with open(log, "rb") as handle:
            lines = handle.read().split(b"\n")[:-1]
    except FileNotFoundError:
        return []
    return [orjson.loads(line) for line in lines if line]


def lacking(log: str, storm: Storm) -> str | None:
    """What the storm has yet to do for the test's assertions to prove much (``None``: nothing; nor once
    the reader broke, which the test reports)."""
    seen = logged(log)
    if any("error" in s or not s["ok"] for s in seen):
        return None
    versions = [s["version"] for s in seen]
    spread = versions[-1] - versions[0] if versions else 0
    kills, pauses = (sum(kind in e for e in storm.events) for kind in ("kill", "pause"))
    wanted = {
        f"{len(versions)} reads (more than 20 wanted)": len(versions) > 20,
        f"versions {spread} apart read (more than 5 wanted)": spread > 5,
        f"{kills} kills (more than 5 wanted)": kills > 5,
        f"{pauses} pauses (more than 3 wanted)": pauses > 3,
    }
    return "; ".join(what for what, done in wanted.items() if not done) or None


def check_reader(log: str, storm: Storm) -> list[int]:
    seen = logged(log)
    where = f"seed {storm.seed}; events:\n" + "\n".join(storm.events)
    broken = [s for s in seen if "error" in s or not s["ok"]]
    assert not broken, f"a reader broke: {broken[:3]}\n{where}"
    versions = [s["version"] for s in seen]
    assert versions == sorted(versions), f"an older export came back after a newer one\n{where}"
    return versions


@pytest.mark.timeout(CAP + 300)
@pytest.mark.parametrize(("storage", "runs"), [("file", 4), ("s3", 3)])
def test_a_storm_of_killed_and_paused_runs_publishes_only_whole_exports(
    akinon_default, tmp_path, request, monkeypatch, storage, runs
):
    monkeypatch.setenv(
        "AIRFLOW__AKINON__PUBLISH_LEASE_TIMEOUT", "1"
    )  # pauses of 1.2 s and more lose the lease
    dest = f"{request.getfixturevalue('s3_dest')}/storm/" if storage == "s3" else str(tmp_path / "storm")
    expected = akinon_default.data.expected("orders", "created_date", *DAY.values())
    FetchOrdersOperator(task_id="o", destination=dest, **DAY).execute({})  # an export to begin with
    storm = Storm(dest, runs, seed=int(os.environ.get("AKINON_STORM_SEED", "20")) + runs)
    log = str(tmp_path / "reader.log")
    reader = forked(lambda: reading(dest, expected, log))
    try:
        storm.blow(lambda: lacking(log, storm))  # until it has published (and killed) enough
    finally:
        storm.calm()
        os.kill(reader, signal.SIGKILL)
        os.waitpid(reader, 0)
    versions = check_reader(log, storm)
    assert len(versions) > 20, "the reader read too little to prove much"
    assert versions[-1] > versions[0] + 5, "the storm published too little to prove much"
    assert sum("kill" in e for e in storm.events) > 5
    assert sum("pause" in e for e in storm.events) > 3
    tidy(dest, expected)
