"""A model of a disk and of S3, and an explorer of every interleaving of the commit protocol's runs.

The runs are the provider's own generators (``protocol.sweep_staging``, ``protocol.publish``,
``protocol.drop_staging``, composed as ``ExportTarget`` composes them). The explorer performs their
operations on :class:`ModelStore` one at a time, choosing at every point which run moves next and how
its operation ends: normally, failed before it took effect, failed after it took effect (an answer
lost), or the run killed there. Judgements (is a run stopped? did the lease change?) go either way,
a wrong one (a live run judged stopped: it was paused) being a fault like the others. Every distinct
state (the store and what each run has been told) is visited once; after each step the invariants are
checked, and from each final state one clean run must succeed and leave the folder tidy.

The model's clock stands still within one ``superseded_retention``: what was there before the runs
started is older than the retention (an export that stood for a day), whatever they write is younger,
so no part they supersede may expire. Its times are those of the real stores: a write dates an object
now, a rename on a disk keeps the file's time, a copy on S3 is dated now.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, is_dataclass
from functools import cached_property
from typing import Any

import orjson

from airflow_provider_akinon.errors import WriteConflict
from airflow_provider_akinon.exports.commit import ops, protocol
from airflow_provider_akinon.exports.commit.lease import LEASE, STAGING, LeaseState, staging_of
from airflow_provider_akinon.exports.commit.store import Entry, Found

MANIFEST = "_manifest.json"
WRITES = (ops.Create, ops.Swap, ops.Put, ops.Delete, ops.Touch, ops.Place)
#: the model's clock: it stands at ``NOW``; an object dated ``LONG_AGO`` is older than ``RETENTION``
LONG_AGO, NOW, RETENTION = 0.0, 1.0, 0.5


class Fault(OSError):
    """An injected storage error."""


def etag(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def expired(entries: tuple[Entry, ...]) -> tuple[str, ...]:
    """``Liveness.expired`` by the model's clock: the keys of entries older than the retention."""
    return tuple(e.key for e in entries if NOW - e.modified > RETENTION)


class ModelStore:
    """
    Objects by key, and which of them are dated ``LONG_AGO`` (``aged``; the others are dated ``NOW``);
    ``flavour`` ``disk`` (a place is a rename: the file keeps its time; a touch dates it now) or ``s3``
    (a place is a copy, dated now; a touch has nothing to do).
    """

    def __init__(self, flavour: str, objects: dict[str, bytes], aged: frozenset[str] = frozenset()) -> None:
        self.flavour = flavour
        self.objects = dict(objects)
        self.aged = set(aged)

    def frozen(self) -> frozenset[tuple[str, bytes]]:
        return frozenset(self.objects.items())

    def apply(self, op: Any) -> Any:
        objects = self.objects
        match op:
            case ops.Read(key):
                return Found(objects[key], etag(objects[key])) if key in objects else None
            case ops.Create(key, data):
                if key in objects:
                    raise WriteConflict(key)
                objects[key] = data
                self.aged.discard(key)
                return etag(data)
            case ops.Swap(key, data, tag):
                if key not in objects or etag(objects[key]) != tag:
                    raise WriteConflict(key)
                objects[key] = data
                self.aged.discard(key)
                return etag(data)
            case ops.Put(key, data):
                objects[key] = data
                self.aged.discard(key)
            case ops.Delete(key):
                objects.pop(key, None)
                self.aged.discard(key)
            case ops.Touch(key):
                if self.flavour == "disk":  # on S3 nothing to do: a place there is a copy, dated now
                    if key not in objects:
                        raise FileNotFoundError(key)
                    self.aged.discard(key)
            case ops.Place(source, target):
                if source not in objects:
                    raise FileNotFoundError(source)
                if self.flavour == "s3":  # a copy, dated now
                    objects[target] = objects[source]
                    self.aged.discard(target)
                else:  # a rename: the file keeps its time
                    objects[target] = objects.pop(source)
                    (self.aged.add if source in self.aged else self.aged.discard)(target)
                    self.aged.discard(source)
            case ops.List(prefix, recursive):
                return self.listing(prefix, recursive)
        return None

    def listing(self, prefix: str, recursive: bool) -> list[Entry]:
        found: set[str] = set()
        for key in self.objects:
            if key.startswith(prefix):
                rest = key[len(prefix) :]
                found.add(key if recursive or "/" not in rest else prefix + rest.split("/")[0] + "/")
        dated = {key: LONG_AGO if key in self.aged or key.endswith("/") else NOW for key in found}
        return [Entry(key, dated[key]) for key in sorted(found)]  # folders dated 0, as the stores list them


@dataclass
class Run:
    """One export's publish: its token, its run id in part names, its staged parts."""

    token: str
    run: str
    parts: list[bytes]

    @cached_property
    def names(self) -> list[str]:
        return [f"part-{n:05d}-{self.run}.jsonl" for n in range(len(self.parts))]

    def staged(self) -> dict[str, bytes]:
        staged = {f"{staging_of(self.token)}s{n:05d}-000.jsonl": data for n, data in enumerate(self.parts)}
        return {**staged, f"{staging_of(self.token)}_beat": b"{}"}

    def entries(self) -> list[dict[str, Any]]:
        return [
            {"name": name, "records": 1, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            for name, data in zip(self.names, self.parts, strict=True)
        ]

    def steps(self) -> Iterator[Any]:
        """What ``ExportTarget`` does: sweep stopped runs' staging, publish, drop its own staging."""
        staged = [k for k in self.staged() if not k.endswith("_beat")]
        manifest = {"format": "jsonl", "records": len(self.parts)}
        try:
            yield from protocol.sweep_staging(self.token)
            published = yield from protocol.publish(self.token, self.run, staged, self.entries(), manifest)
        except GeneratorExit:
            raise
        except BaseException as err:
            yield from self.close()
            raise err
        yield from self.close()
        return published

    def close(self) -> Iterator[Any]:
        """``ExportTarget.close``: drop the run's staging; an error there is only a warning."""
        with contextlib.suppress(Exception):
            yield from protocol.drop_staging(self.token)


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


ERRORS: dict[str, Callable[[str], BaseException]] = {
    "Fault": Fault,
    "WriteConflict": WriteConflict,
    "FileNotFoundError": FileNotFoundError,
}


@dataclass
class Node:
    """A run after one history of answers (its ``parent``'s, and ``feed``): the operation it waits on, or its end."""

    parent: int
    feed: tuple[str, Any] | None
    pending: Any = None
    status: str = "live"  # live, done, failed
    outcome: Any = None


def freeze(value: Any) -> Any:
    """A hashable stand-in for a generator's local variable."""
    if isinstance(value, dict):
        return tuple(sorted((k, freeze(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    if isinstance(value, set | frozenset):
        return frozenset(freeze(v) for v in value)
    if isinstance(value, BaseException):
        return (type(value).__name__, str(value))
    if is_dataclass(value):
        return (type(value).__name__, *(freeze(getattr(value, f.name)) for f in fields(value)))
    if hasattr(value, "gi_frame"):  # a generator: where it stands
        return generator_key(value)
    return value


def generator_key(gen: Any) -> Any:
    """Where a generator stands, through its ``yield from`` chain: code, instruction, local variables.
    Two runs at the same key behave the same from there on, whatever answers brought them there."""
    key = []
    while gen is not None and gen.gi_frame is not None:
        frame = gen.gi_frame
        local = tuple(sorted((k, freeze(v)) for k, v in frame.f_locals.items() if not hasattr(v, "gi_frame")))
        key.append((frame.f_code, frame.f_lasti, local))
        gen = gen.gi_yieldfrom
    return tuple(key)


class RunTree:
    """
    What one run does after each history of answers, computed once per distinct point: a run's behaviour
    depends on nothing but the answers it was given, and two histories that leave its generators standing
    at the same instruction with the same variables (a retry loop gone round) are one node. A generator
    stands parked at the newest nodes and is advanced from there; another node is reached by replaying the
    answers of the first history that reached it.
    """

    def __init__(self, run: Run, *, merge: bool = True) -> None:
        self.run = run
        self.merge = merge
        self.nodes: list[Node] = []
        self.edges: dict[tuple[int, str, Any], int] = {}
        self.keys: dict[Any, int] = {}
        self.parked: dict[int, Any] = {}
        gen = run.steps()
        self.nodes.append(Node(-1, None, pending=next(gen)))
        self.parked[0] = gen

    def _replay(self, node: int) -> Any:
        feeds = []
        while node > 0:
            feeds.append(self.nodes[node].feed)
            node = self.nodes[node].parent
        gen = self.run.steps()
        next(gen)
        for kind, value in reversed(feeds):
            gen.send(value) if kind == "send" else gen.throw(ERRORS[value[0]](value[1]))
        return gen

    def advance(self, node: int, kind: str, value: Any) -> int:
        """The node after answering ``node``'s operation with ``value`` (``send``) or an error (``throw``)."""
        value = _hashable(value) if kind == "send" else value
        recorded = value if kind == "send" else (type(value).__name__, str(value))
        edge = (node, kind, recorded)
        if edge in self.edges:
            return self.edges[edge]
        gen = self.parked.pop(node, None) or self._replay(node)
        child = Node(node, (kind, recorded))
        try:
            child.pending = gen.send(value) if kind == "send" else gen.throw(value)
            key = ("live", generator_key(gen) if self.merge else len(self.nodes), child.pending)
        except StopIteration as done:
            child.status, child.outcome = "done", done.value
            key = ("done", freeze(done.value))
        except Exception as err:  # the run failed, after its own clean-up
            child.status, child.outcome = "failed", err
            key = ("failed", freeze(err))
        if key not in self.keys:
            self.keys[key] = len(self.nodes)
            self.nodes.append(child)
        at = self.edges[edge] = self.keys[key]
        if child.status == "live" and at == len(self.nodes) - 1:  # only the history that found a node goes on
            self.parked[at] = gen
        return at


@dataclass(frozen=True)
class State:
    """A point of an execution: the store (object contents interned), where each run stands (its node;
    ``-1`` once killed), faults used, every manifest ``_manifest.json`` has held (version, files), and
    the objects dated ``LONG_AGO``."""

    objects: frozenset[tuple[str, int]]
    runs: tuple[int, ...]
    faults: int
    pointed: frozenset[tuple[int, tuple[str, ...]]]
    aged: frozenset[str]


class Violation(AssertionError):
    """An invariant broken: the message says which, and the schedule that broke it."""


@dataclass(frozen=True)
class Footprint:
    """What a step reads and writes, to tell steps that commute (in either order, the same state)."""

    reads: frozenset[str] = frozenset()
    prefixes: frozenset[str] = frozenset()
    writes: frozenset[str] = frozenset()
    everything: bool = False

    def conflicts(self, other: Footprint) -> bool:
        if self.everything or other.everything:
            return True
        if self.writes & (other.reads | other.writes) or other.writes & self.reads:
            return True
        return any(w.startswith(p) for w in self.writes for p in other.prefixes) or any(
            w.startswith(p) for w in other.writes for p in self.prefixes
        )


def footprint(op: Any, choice: Any, token: str, wrong: bool) -> Footprint:
    """The footprint of one run's step; a fault is dependent on everything (it spends the shared budget)."""
    if wrong or choice in ("error-before", "error-after", "kill"):
        return Footprint(everything=True)
    alive = f"alive:{token}"  # a run's every step may end it, which judgements of it read
    match op:
        case ops.Read(key):
            return Footprint(reads=frozenset({key}), writes=frozenset({alive}))
        case ops.Create(key) | ops.Swap(key) | ops.Put(key) | ops.Delete(key) | ops.Touch(key):
            return Footprint(writes=frozenset({key, alive}))
        case ops.Place(source, target):
            return Footprint(reads=frozenset({source}), writes=frozenset({source, target, alive}))
        case ops.List(prefix):
            return Footprint(prefixes=frozenset({prefix}), writes=frozenset({alive}))
        case ops.Stale(judged):
            return Footprint(reads=frozenset({f"alive:{judged}"}), writes=frozenset({alive}))
        case ops.AwaitLease(holder):
            return Footprint(reads=frozenset({LEASE, f"alive:{holder}"}), writes=frozenset({alive}))
    return Footprint(writes=frozenset({alive}))


@dataclass
class Explorer:
    """
    Every interleaving of ``runs`` over a store of ``flavour``, with at most ``max_faults`` faults.

    Depth first, each state once, and with sleep sets: of two orders of steps that commute (disjoint
    footprints), one is explored. Steps are judged by what they touch, so the reduction is sound.

    :param initial: the objects before the runs start (a published export, a user's files).
    :param foreign: keys that are not the provider's: never to be changed.
    """

    flavour: str
    runs: list[Run]
    initial: dict[str, bytes]
    foreign: frozenset[str]
    max_faults: int = 1
    merge: bool = True
    states: int = 0
    finals: int = 0
    trees: list[RunTree] = field(default_factory=list)
    contents: dict[bytes, int] = field(default_factory=dict)
    values: list[bytes] = field(default_factory=list)
    visited: dict[State, frozenset[Any]] = field(default_factory=dict)
    endings: set[tuple[frozenset[tuple[str, bytes]], frozenset[str]]] = field(default_factory=set)

    @cached_property
    def ours(self) -> frozenset[str]:
        """The part names the provider may write: the runs' and the published export's."""
        return frozenset(
            {n for run in self.runs for n in run.names} | {k for k in self.initial if k.startswith("part-")}
        )

    def intern(self, objects: dict[str, bytes]) -> frozenset[tuple[str, int]]:
        found = []
        for key, data in objects.items():
            if data not in self.contents:
                self.contents[data] = len(self.values)
                self.values.append(data)
            found.append((key, self.contents[data]))
        return frozenset(found)

    def objects(self, state: State) -> dict[str, bytes]:
        return {key: self.values[at] for key, at in state.objects}

    def explore(self) -> None:
        self.trees = [RunTree(run, merge=self.merge) for run in self.runs]
        objects = dict(self.initial)
        for run in self.runs:
            objects.update(run.staged())
        first = State(
            self.intern(objects),
            tuple(0 for _ in self.runs),
            0,
            pointed_by(objects, frozenset()),
            frozenset(self.initial),  # written before the runs, longer ago than the retention
        )
        self._check(first, ())
        self._visit(first, frozenset(), ())

    def _visit(self, state: State, sleep: frozenset[Any], path: tuple[Any, ...]) -> None:
        if state in self.visited:
            before = self.visited[state]
            if before <= sleep:
                return
            only, self.visited[state] = before - sleep, before & sleep  # what was asleep then, not now
        else:
            only, self.visited[state] = None, sleep
            self.states += 1
        steps = list(self._successors(state))
        if not steps:
            self._final(state, path)
        done: list[tuple[Any, Footprint]] = []
        for child, step, mark in steps:
            if mark in sleep or (only is not None and mark not in only):
                done.append((mark, step))
                continue
            asleep = frozenset(
                m for m, f in (*[(m, f) for m, f in sleep_items(sleep)], *done) if not f.conflicts(step)
            )
            if child not in self.visited:
                self._check(child, (*path, mark))
            self._visit(child, asleep, (*path, mark))
            done.append((mark, step))

    def _node(self, index: int, node: int) -> Node | None:
        """Run ``index`` at ``node``, if it can still move."""
        found = self.trees[index].nodes[node] if node >= 0 else None
        return found if found is not None and found.status == "live" else None

    def _alive(self, state: State) -> set[str]:
        return {self.runs[i].token for i, node in enumerate(state.runs) if self._node(i, node) is not None}

    # ------------------------------------------------------------------ one step
    def _successors(self, state: State) -> Iterator[tuple[State, Footprint, Any]]:
        """Each step possible from ``state``: the state it leads to, its footprint, and its mark (for sleep sets)."""
        objects, alive = self.objects(state), self._alive(state)
        for index, node in enumerate(state.runs):
            current = self._node(index, node)
            if current is None:
                continue
            for choice in self._choices(state, objects, alive, current.pending):
                store = ModelStore(self.flavour, objects, state.aged)
                at, faults = self._step(store, alive, index, node, choice)
                runs = (*state.runs[:index], at, *state.runs[index + 1 :])
                child = State(
                    self.intern(store.objects),
                    runs,
                    state.faults + faults,
                    pointed_by(store.objects, state.pointed),
                    frozenset(store.aged),
                )
                step = footprint(current.pending, choice, self.runs[index].token, faults > 0)
                yield child, step, (index, current.pending, choice, step)

    def _choices(self, state: State, objects: dict[str, bytes], alive: set[str], op: Any) -> list[Any]:
        spare = state.faults < self.max_faults
        if isinstance(op, ops.Stale):
            return [False, True] if op.token not in alive or spare else [False]
        if isinstance(op, ops.AwaitLease):
            lease = objects.get(LEASE)
            options = ["changed"] if lease is None or etag(lease) != op.etag else []
            return options + (["stale"] if op.holder not in alive or spare else [])
        if isinstance(op, ops.Expired):
            return [expired(op.entries)]
        faults = ["error-before", "kill"] + (["error-after"] if isinstance(op, WRITES) else [])
        return ["ok"] + (faults if spare else [])

    def _step(
        self, store: ModelStore, alive: set[str], index: int, node: int, choice: Any
    ) -> tuple[int, int]:
        """Do ``choice`` for run ``index``'s pending operation: its next node, and the faults it counts."""
        tree, op = self.trees[index], self.trees[index].nodes[node].pending
        if isinstance(op, ops.Stale | ops.AwaitLease | ops.Expired):
            wrong = (isinstance(op, ops.Stale) and choice is True and op.token in alive) or (
                isinstance(op, ops.AwaitLease) and choice == "stale" and op.holder in alive
            )
            return tree.advance(node, "send", choice), int(wrong)
        if choice == "kill":
            return -1, 1
        if choice == "error-before":
            return tree.advance(node, "throw", Fault("injected")), 1
        try:
            result = store.apply(op)
        except (WriteConflict, FileNotFoundError) as err:
            return tree.advance(node, "throw", err), int(choice != "ok")
        if choice == "error-after":
            return tree.advance(node, "throw", Fault("answer lost")), 1
        return tree.advance(node, "send", result), 0

    # ------------------------------------------------------------------ what must hold
    def _fail(self, path: tuple[Any, ...], message: str) -> Violation:
        steps = "\n".join(f"  run {index}: {op} -> {choice}" for index, op, choice, _ in path)
        return Violation(f"{message}\nafter {len(path)} steps ({self.flavour}):\n{steps}")

    def _check(self, state: State, path: tuple[Any, ...]) -> None:
        objects = self.objects(state)
        for key in self.foreign:
            if objects.get(key) != self.initial[key]:
                raise self._fail(path, f"a file that is not the provider's was touched: {key}")
        for key in objects:
            if not (key in self.foreign or key in self.ours or key == MANIFEST or key.startswith("_akinon/")):
                raise self._fail(path, f"an object the protocol should never write: {key}")
        self._readable(state.pointed, objects, path, "")
        if MANIFEST in objects:
            manifest = orjson.loads(objects[MANIFEST])
            if protocol.version_of(manifest) != max(version for version, _ in state.pointed):
                raise self._fail(path, "_manifest.json went back to an older version")
            missing = [f["name"] for f in manifest["files"] if f["name"] not in objects]
            if missing:
                raise self._fail(path, f"the current manifest lists files not in the folder: {missing}")
        if LEASE in objects:
            lease_state(objects[LEASE])

    def _readable(self, pointed: Any, objects: dict[str, bytes], path: tuple[Any, ...], when: str) -> None:
        """Each export ever published is whole, where a reader pinned to its manifest looks."""
        versions: dict[int, tuple[str, ...]] = {}
        for version, files in pointed:
            if versions.setdefault(version, files) != files:
                raise self._fail(path, f"two different exports were published as version {version}")
            gone = [f for f in files if f not in objects and f"{protocol.SUPERSEDED}{f}" not in objects]
            if gone:
                raise self._fail(path, f"a reader of version {version} would break{when}: {gone} gone")

    def _final(self, state: State, path: tuple[Any, ...]) -> None:
        """No run can move: every run has ended. One more, clean run must succeed and leave it tidy."""
        self.finals += 1
        self.endings.add((frozenset(self.objects(state).items()), state.aged))
        if self._alive(state):
            raise self._fail(path, "runs wait forever: a live run can never go on")
        clean = Run("T9", "00000009", [b'{"id": 9}\n'])
        store = ModelStore(self.flavour, {**self.objects(state), **clean.staged()}, state.aged)
        tree, node, pointed = RunTree(clean), 0, state.pointed
        while tree.nodes[node].status == "live":
            op = tree.nodes[node].pending
            if isinstance(op, ops.Stale | ops.AwaitLease | ops.Expired):
                answer = (op.token != clean.token) if isinstance(op, ops.Stale) else "stale"
                node = tree.advance(
                    node, "send", expired(op.entries) if isinstance(op, ops.Expired) else answer
                )
                continue
            try:
                node = tree.advance(node, "send", store.apply(op))
            except (WriteConflict, FileNotFoundError) as err:
                node = tree.advance(node, "throw", err)
            pointed = pointed_by(store.objects, pointed)
        self._tidy(store, tree.nodes[node], clean, pointed, state, path)

    def _tidy(
        self, store: ModelStore, end: Node, clean: Run, pointed: Any, state: State, path: tuple[Any, ...]
    ) -> None:
        objects = store.objects
        if end.status != "done":
            raise self._fail(path, f"the next run failed on what these runs left: {end.outcome!r}")
        top = {key for key in objects if "/" not in key}
        expected = (self.foreign & top) | set(clean.names) | {MANIFEST}
        if top != expected:
            raise self._fail(
                path,
                f"the folder holds {sorted(top - expected)} beside the export, lacks {sorted(expected - top)}",
            )
        leftovers = [key for key in objects if key.startswith(STAGING)]
        if leftovers:
            raise self._fail(path, f"staging left behind: {leftovers}")
        kept = [key for key in objects if key.startswith(protocol.SUPERSEDED) and key in store.aged]
        if kept:
            raise self._fail(path, f"superseded parts past their retention kept: {kept}")
        lease = LeaseState.decode(objects[LEASE])
        if lease.holder or lease.intent or lease.commit:
            raise self._fail(path, f"the lease is not free after the clean run: {lease}")
        self._readable(pointed, objects, path, " after the clean run")
        published = {version for version, _ in pointed}
        for index, node in enumerate(state.runs):
            ended = self.trees[index].nodes[node] if node >= 0 else None
            if (
                ended is not None
                and ended.status == "done"
                and protocol.version_of(ended.outcome) not in published
            ):
                raise self._fail(
                    path, f"run {self.runs[index].run} reported success, but its export never was published"
                )


@functools.lru_cache(maxsize=65536)
def lease_state(data: bytes) -> LeaseState:
    return LeaseState.decode(data)


@functools.lru_cache(maxsize=65536)
def published(data: bytes) -> tuple[int, tuple[str, ...]]:
    """A manifest's version and files."""
    manifest = orjson.loads(data)
    return protocol.version_of(manifest), tuple(f["name"] for f in manifest["files"])


def pointed_by(objects: dict[str, bytes], pointed: frozenset[Any]) -> frozenset[Any]:
    """``pointed`` and the manifest ``_manifest.json`` holds now."""
    if MANIFEST not in objects:
        return pointed
    now = published(objects[MANIFEST])
    return pointed if now in pointed else pointed | {now}


def sleep_items(sleep: frozenset[Any]) -> list[tuple[Any, Footprint]]:
    """The marks of a sleep set with their footprints (a mark carries its step's footprint last)."""
    return [(mark, mark[3]) for mark in sleep]
