"""The commit protocol of a file export, as generators of storage operations (:mod:`.ops`): no I/O here.

Written so that where a generator stands is all in its local variables (no loop over an unnamed
result, no bare ``raise`` after a ``yield``): the tests' explorer tells two runs apart by them.

A publish, under the destination's lease (:mod:`.lease`), every decision a compare-and-swap of it:

1. **acquire** the lease: create it, take it when free, or take it over from a holder judged stopped
   (the swap names the etag read, so of several waiters exactly one takes it);
2. **settle** what the previous holder left: a ``commit`` is rolled forward (step 5 and 6), an ``intent``
   rolled back (its parts deleted, its run remembered in ``aborted``); parts of aborted runs and
   superseded parts past their retention are removed;
3. write the **intent**: the names of the parts about to move in;
4. **place** each staged part under its final name ``part-NNNNN-<run>.<suffix>``;
5. **commit**: one swap writes the manifest into the lease and clears the intent. A holder that lost
   the lease meanwhile loses this swap: a stale holder's commit is refused;
6. **point** ``_manifest.json`` at it (a swap that never lowers its ``version``), move the parts it
   replaces to ``_akinon/superseded/`` (readers of the old manifest find them there for the retention,
   counted from now: each is touched before it moves, as a rename keeps its time), and release.

An error before step 5 rolls the run's own parts back while it still holds the lease; after step 5 the
export is published, and an error only leaves step 6 to the next holder. A kill anywhere leaves the
lease to be taken over, and step 2 finishes the job. The tests drive these generators over models of a
disk and of S3 in every interleaving of two and three runs, with a fault at every step.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from airflow_provider_akinon.errors import LeaseLostError, WriteConflict
from airflow_provider_akinon.exports.commit.lease import LEASE, STAGING, LeaseState, staging_of
from airflow_provider_akinon.exports.commit.ops import (
    AwaitLease,
    Create,
    Delete,
    Expired,
    List,
    Place,
    Read,
    Stale,
    Steps,
    Swap,
    Touch,
)
from airflow_provider_akinon.exports.commit.storage import MANIFEST

log = logging.getLogger(__name__)

SUPERSEDED = "_akinon/superseded/"
#: The names this provider gives published parts: ``part-00000-<run>.<suffix>`` (``part-00000.<suffix>``
#: before 0.3); a file so named that no manifest or lease of it accounts for is not ours to touch.
PART_NAME = re.compile(r"^part-\d{5}(?:-(?P<run>[0-9a-f]{8}))?\.[a-z0-9]+(?:\.[a-z0-9]+)?$")


@dataclass(frozen=True)
class Held:
    """The lease as this run last wrote it: the etag its next swap must name, and what it says."""

    etag: str
    state: LeaseState


def version_of(manifest: dict[str, Any] | None) -> int:
    """A manifest's commit number (0: none, or one written before 0.4)."""
    return int((manifest or {}).get("version") or 0)


def encode_manifest(manifest: dict[str, Any]) -> bytes:
    """A manifest as the bytes stored (indented JSON)."""
    return orjson.dumps(manifest, option=orjson.OPT_INDENT_2)


def decode(found: Any) -> dict[str, Any] | None:
    """A small JSON object as read (``None``: absent, or not a JSON object)."""
    if found is None:
        return None
    try:
        value = orjson.loads(found.data)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def cas(key: str, data: bytes, etag: str | None) -> Steps[str]:
    """Create (``etag`` ``None``) or swap ``key``. A conflict or an error may hide an earlier try of this very
    write that landed (its answer lost, then retried): read back, and count it as written if it holds ``data``."""
    try:
        return (yield (Create(key, data) if etag is None else Swap(key, data, etag)))
    except (WriteConflict, OSError) as err:
        found = yield Read(key)
        if found is not None and found.data == data:
            return str(found.etag)
        raise err


def write_lease(held: Held, state: LeaseState) -> Steps[Held]:
    """Swap the lease to ``state``; :class:`LeaseLostError` when another run took it over."""
    state = held.state.then(**{k: getattr(state, k) for k in ("holder", "intent", "commit", "aborted")})
    try:
        etag = yield from cas(LEASE, state.encode(), held.etag)
    except WriteConflict:
        raise LeaseLostError(
            "another run took over the publish lease (this run's heartbeat had stopped for longer than the "
            "lease timeout: paused, or cut off from the store); nothing of this run was committed"
        ) from None
    return Held(etag, state)


def acquire(token: str) -> Steps[Held]:
    """Hold the lease: create it, take it when free, or take it over from a holder judged stopped."""
    while True:
        found = yield Read(LEASE)
        state = LeaseState.decode(found.data) if found is not None else LeaseState()
        if found is not None and state.holder == token:  # our own write, its answer lost
            return Held(found.etag, state)
        if found is not None and state.holder is not None:
            if (yield AwaitLease(state.holder, found.etag)) == "changed":
                continue
            log.warning("Taking over the publish lease of a run that stopped: %s", state.holder)
        taken = state.then(holder=token)
        try:
            etag = yield from cas(LEASE, taken.encode(), found.etag if found is not None else None)
        except WriteConflict:
            continue
        return Held(etag, taken)


def point(manifest: dict[str, Any]) -> Steps[None]:
    """Make ``_manifest.json`` this manifest, unless it already is one of a later commit."""
    data = encode_manifest(manifest)
    while True:
        found = yield Read(MANIFEST)
        if found is not None and version_of(decode(found)) >= version_of(manifest):
            return
        try:
            yield from cas(MANIFEST, data, found.etag if found is not None else None)
            return
        except WriteConflict:
            continue


def supersede(names: Sequence[str]) -> Steps[None]:
    """Move replaced parts out of the export's folder, into ``_akinon/superseded/`` for readers still at them,
    dated now: their retention counts from their replacement (touched first: a kill between the two steps
    leaves a part in place, younger, never one moved out that looks as old as its export)."""
    for name in names:
        with contextlib.suppress(FileNotFoundError):  # moved out already
            yield Touch(name)
            yield Place(name, f"{SUPERSEDED}{name}")
        yield Delete(name)


def roll_forward(commit: dict[str, Any]) -> Steps[None]:
    """Finish a commit: point the manifest at it, move out what it replaces."""
    yield from point(commit)
    yield from supersede(commit["replaces"])


def settle(held: Held) -> Steps[tuple[Held, dict[str, Any] | None]]:
    """Finish or roll back what the previous holder left; remove the garbage of rolled-back runs."""
    state = held.state
    if state.commit is not None:
        yield from roll_forward(state.commit)
        state = state.then(commit=None)
    if state.intent is not None:
        for name in state.intent["parts"]:
            yield Delete(name)
        state = state.then(intent=None, aborted=state.rolled_back(state.intent["run"]))
    if state != held.state:
        held = yield from write_lease(held, state)
    current = decode((yield Read(MANIFEST)))
    if held.state.aborted:  # a rolled-back run, paused past its lease, may have moved a part in since
        listed = {f["name"] for f in (current or {}).get("files", ())}
        listing = yield List("")
        for entry in listing:
            match = PART_NAME.match(entry.key)
            if match and match["run"] in held.state.aborted and entry.key not in listed:
                yield Delete(entry.key)
    expired = yield Expired(tuple((yield List(SUPERSEDED))))
    for key in expired:
        yield Delete(key)
    return held, current


def commit_record(
    manifest: dict[str, Any], current: dict[str, Any] | None, run: str, parts: list[dict[str, Any]]
) -> dict[str, Any]:
    """The manifest this publish commits: the next version, its parts, and the parts it replaces: the current
    export's only (what that one replaced was moved out before its commit left the lease), and what a
    manifest of 0.3, which kept replaced parts in place until they were gone, still names."""
    previous = {f["name"] for f in (current or {}).get("files", ())}
    previous |= set((current or {}).get("replaces", ()) if version_of(current) == 0 else ())
    return {
        **manifest,
        "version": version_of(current) + 1,
        "run": run,
        "files": parts,
        "replaces": sorted(previous - {p["name"] for p in parts}),
    }


def publish(
    token: str, run: str, staged: Sequence[str], parts: list[dict[str, Any]], manifest: dict[str, Any]
) -> Steps[dict[str, Any]]:
    """
    Publish the staged files ``staged`` as ``parts`` (their manifest entries, in order) with ``manifest``.

    :param token: this run's token (its staging folder and the lease's holder); ``run``: its id in part names.
    """
    try:
        held = yield from acquire(token)
        held, current = yield from settle(held)
        names = [p["name"] for p in parts]
        intent = {"run": run, "token": token, "parts": names}
        held = yield from write_lease(held, held.state.then(intent=intent))
        for source, name in zip(staged, names, strict=True):
            yield Place(source, name)
        committed = commit_record(manifest, current, run, parts)
        held = yield from write_lease(held, held.state.then(intent=None, commit=committed))
    except GeneratorExit:
        raise
    except BaseException as err:
        yield from abandon(token, run)
        raise err
    yield from finish(held, committed)
    return committed


def finish(held: Held, committed: dict[str, Any]) -> Steps[None]:
    """After the commit: point the manifest at it and move out what it replaced (an error there fails the task,
    and the lease is released with the commit in it: the retry rolls it forward); then release."""
    try:
        yield from roll_forward(committed)
    except GeneratorExit:
        raise
    except BaseException as err:
        with contextlib.suppress(Exception):  # else the next run takes the lease over once this one is silent
            yield from write_lease(held, held.state.then(holder=None))
        raise err
    try:
        yield from write_lease(held, held.state.then(holder=None, commit=None))
    except GeneratorExit:
        raise
    except Exception as err:  # published and in place: the next holder clears the lease
        log.warning("Published, but releasing the publish lease failed (the next run takes it over): %s", err)


def abandon(token: str, run: str) -> Steps[None]:
    """On the way out of a failed publish: roll back this run's intent and release, if it still holds the lease."""
    try:
        found = yield Read(LEASE)
        if found is None:
            return
        state = LeaseState.decode(found.data)
        if state.holder != token:  # taken over: the new holder settles what this run left
            return
        held = Held(found.etag, state)
        if state.commit is not None:  # committed after all (an answer lost): finish it
            yield from finish(held, state.commit)
            return
        if state.intent is not None and state.intent["run"] == run:
            for name in state.intent["parts"]:
                yield Delete(name)
            state = state.then(intent=None, aborted=state.rolled_back(run))
        yield from write_lease(held, state.then(holder=None))
    except GeneratorExit:
        raise
    except Exception as err:  # the next holder takes over once this run's heartbeat stops
        log.warning("Could not roll back this run's publish (the next run will): %s", err)


def sweep_staging(token: str) -> Steps[None]:
    """Remove the staging folders of runs judged stopped (never this run's)."""
    newest: dict[str, float] = {}
    keys: dict[str, list[str]] = {}
    listing = yield List(STAGING, True)
    for entry in listing:
        owner = entry.key[len(STAGING) :].split("/", 1)[0]
        keys.setdefault(owner, []).append(entry.key)
        newest[owner] = max(newest.get(owner, entry.modified), entry.modified)
    for owner, owned in keys.items():
        if owner != token and (yield Stale(owner, newest[owner])):
            log.info("Removing the staging of a run that stopped: %s%s", STAGING, owner)
            for key in owned:
                yield Delete(key)


def drop_staging(token: str) -> Steps[None]:
    """Remove this run's own staging folder."""
    listing = yield List(staging_of(token), True)
    for entry in listing:
        yield Delete(entry.key)
