"""The commit protocol, proven on models of a disk and of S3: every interleaving of two and three runs, a fault
at every step, and one clean run after each ending. Breaking the protocol in any of its guarantees is caught."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import sys

import orjson
import pytest

from airflow_provider_akinon.compat import AIRFLOW_V3
from airflow_provider_akinon.exports.commit import protocol
from airflow_provider_akinon.exports.commit.lease import LEASE
from airflow_provider_akinon.exports.commit.ops import Delete, Place, Put, Read, Touch
from tests.exports.commit.model import Explorer, Run, Violation

# The protocol's own code over models of a store: no Airflow in it, so it is proven once, on Airflow 3's
# run of the suite (the storms and the publish tests run the same code on both Airflow lines).
pytestmark = pytest.mark.skipif(not AIRFLOW_V3, reason="no Airflow involved: explored on the Airflow 3 run")

OLD = b'{"id": 0}\n'
#: a published export (version 1), a user's files beside it; all of it older than the retention (the model's
#: clock stands within one retention of the runs' writes: none of the parts they supersede may expire)
INITIAL = {
    "part-00000-00000000.jsonl": OLD,
    "_manifest.json": orjson.dumps(
        {
            "format": "jsonl",
            "version": 1,
            "files": [
                {
                    "name": "part-00000-00000000.jsonl",
                    "records": 1,
                    "bytes": 10,
                    "sha256": hashlib.sha256(OLD).hexdigest(),
                }
            ],
            "replaces": [],
        }
    ),
    "README": b"a user's notes",
    "part-0001.csv": b"a,b\n",
    # a part an export before version 1 replaced, superseded longer ago than the retention
    f"{protocol.SUPERSEDED}part-00000-0000000f.jsonl": b'{"id": -1}\n',
}
FOREIGN = frozenset({"README", "part-0001.csv"})


class Publishing(Run):
    """A run that only publishes (no staging sweep before, no staging drop after): fewer steps, for three runs."""

    def steps(self):
        staged = [k for k in self.staged() if not k.endswith("_beat")]
        return (
            yield from protocol.publish(self.token, self.run, staged, self.entries(), {"format": "jsonl"})
        )


def two_runs(kind=Run):
    return [
        kind("T1", "0000000a", [b'{"id": 1}\n', b'{"id": 2}\n']),
        kind("T2", "0000000b", [b'{"id": 3}\n']),
    ]


def three_runs(kind=Run):
    return [kind(f"T{n}", f"0000000{c}", [b'{"id": %d}\n' % n]) for n, c in ((1, "a"), (2, "b"), (3, "c"))]


@pytest.fixture(autouse=True)
def deep_and_quiet():
    """The explorer goes depth first, one frame a step; the protocol's warnings would fill the log."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(20_000)
    logging.disable(logging.WARNING)
    yield
    logging.disable(logging.NOTSET)
    sys.setrecursionlimit(limit)


def explore(flavour, runs, *, faults=1, merge=True):
    explorer = Explorer(flavour, runs, INITIAL, FOREIGN, max_faults=faults, merge=merge)
    explorer.explore()
    return explorer


@pytest.mark.parametrize("flavour", ["disk", "s3"])
@pytest.mark.parametrize("faults", [1, 2])
def test_two_runs_every_interleaving_and_faults_at_every_step(flavour, faults):
    """Two exports of one partition at once (a retry beside a zombie attempt), each sweeping, publishing and
    tidying, with one or two faults anywhere: errors before or after a call took effect, kills, a live run
    judged stopped. After each step: the current export whole in the folder, every export ever published
    readable by a reader pinned to it, versions only rising, nothing of the user's touched; after each
    ending, one clean run succeeds and leaves exactly its export, a free lease and no staging."""
    explorer = explore(flavour, two_runs(), faults=faults)
    assert explorer.states > 5_000
    assert explorer.finals > 50  # endings: both succeeded, one failed, one killed at each step, ...


@pytest.mark.parametrize("flavour", ["disk", "s3"])
def test_three_runs_every_interleaving_without_faults(flavour):
    explorer = explore(flavour, three_runs(), faults=0)
    assert explorer.states > 20_000


@pytest.mark.parametrize("flavour", ["disk", "s3"])
def test_three_publishers_every_interleaving_and_a_fault_at_every_step(flavour):
    """Three runs racing for the lease (two waiters at once breaking a stopped holder's), a fault anywhere."""
    explorer = explore(flavour, three_runs(Publishing))
    assert explorer.states > 100_000


def test_merging_equal_points_of_a_run_finds_what_exploring_every_history_finds():
    """The explorer merges histories that leave a run at the same point (retry loops); check that it is sound:
    the endings reached are the same as without merging."""
    merged = explore("s3", two_runs(Publishing), merge=True)
    apart = explore("s3", two_runs(Publishing), merge=False)
    assert apart.states > 5 * merged.states
    assert merged.endings == apart.endings


# ---------------------------------------------------------------------------------------------- broken
def unconditional_lease(held, state):
    state = held.state.then(
        holder=state.holder, intent=state.intent, commit=state.commit, aborted=state.aborted
    )
    yield Put(LEASE, state.encode())
    found = yield Read(LEASE)
    return protocol.Held(found.etag, state)


def delete_instead_of_superseding(names):
    for name in names:
        yield Delete(name)


def pointer_without_version(manifest):
    yield Put("_manifest.json", protocol.encode_manifest(manifest))


def settle_without_rollback(held):
    current = protocol.decode((yield Read("_manifest.json")))
    return held, current


def abandon_whoever_holds(token, run):
    found = yield Read(LEASE)
    state = protocol.LeaseState.decode(found.data)
    if state.intent is not None and state.intent["run"] == run:
        for name in state.intent["parts"]:
            yield Delete(name)
    elif state.commit is not None and state.commit["run"] == run:
        for entry in state.commit["files"]:
            yield Delete(entry["name"])


def publish_placing_first(token, run, staged, parts, manifest):
    """The parts moved in before the intent names them: a kill in between leaves parts no record names."""
    try:
        held = yield from protocol.acquire(token)
        held, current = yield from protocol.settle(held)
        names = [p["name"] for p in parts]
        for source, name in zip(staged, names, strict=True):
            yield Place(source, name)
        held = yield from protocol.write_lease(
            held, held.state.then(intent={"run": run, "token": token, "parts": names})
        )
        committed = protocol.commit_record(manifest, current, run, parts)
        held = yield from protocol.write_lease(held, held.state.then(intent=None, commit=committed))
    except GeneratorExit:
        raise
    except BaseException as err:
        yield from protocol.abandon(token, run)
        raise err
    yield from protocol.finish(held, committed)
    return committed


@pytest.mark.parametrize(
    ("broken", "replacement", "faults", "caught"),
    [
        ("write_lease", unconditional_lease, 1, "reader|two different exports|older version|lists files"),
        ("supersede", delete_instead_of_superseding, 1, "a reader of version 1 would break"),
        ("point", pointer_without_version, 1, "older version"),
        ("settle", settle_without_rollback, 1, "beside the export|not free|past their retention kept"),
        # a commit whose answer was lost and then could not be read back: two faults
        ("abandon", abandon_whoever_holds, 2, "reader of version|lists files"),
        ("publish", publish_placing_first, 1, "beside the export|failed"),
    ],
    ids=[
        "lease-without-compare",
        "delete-not-supersede",
        "pointer-goes-back",
        "no-rollback",
        "abandon-blind",
        "place-before-intent",
    ],
)
@pytest.mark.parametrize("flavour", ["disk", "s3"])
def test_the_model_catches_a_broken_protocol(monkeypatch, broken, replacement, faults, caught, flavour):
    monkeypatch.setattr(protocol, broken, replacement)
    with pytest.raises(Violation, match=caught):
        explore(flavour, two_runs(), faults=faults)


def supersede_by_a_bare_move(names):
    """The replaced parts moved out untouched: on a disk a rename keeps a part's time."""
    for name in names:
        with contextlib.suppress(FileNotFoundError):
            yield Place(name, f"{protocol.SUPERSEDED}{name}")
        yield Delete(name)


def supersede_touching_after_the_move(names):
    """The moved part touched after the move: a kill in between leaves it moved out with its old time."""
    for name in names:
        with contextlib.suppress(FileNotFoundError):
            yield Place(name, f"{protocol.SUPERSEDED}{name}")
            yield Touch(f"{protocol.SUPERSEDED}{name}")
        yield Delete(name)


@pytest.mark.parametrize(
    "replacement",
    [supersede_by_a_bare_move, supersede_touching_after_the_move],
    ids=["untouched", "touched-after-the-move"],
)
def test_the_model_catches_a_superseded_part_dated_by_when_it_was_written(monkeypatch, replacement):
    """On a disk the version 1 export, older than the retention, would count as superseded since it was
    written, and the next publish would remove it under its readers (right away without the touch; after a
    kill between the move and the touch otherwise). On S3 a move is a copy, dated now: both are right."""
    monkeypatch.setattr(protocol, "supersede", replacement)
    with pytest.raises(Violation, match="a reader of version 1 would break"):
        explore("disk", two_runs())
    explore("s3", two_runs())
