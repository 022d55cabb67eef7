"""What the commit protocol asks of storage and time, one operation at a time, and the driver that does it.

The protocol (:mod:`~airflow_provider_akinon.exports.commit.protocol`) is a generator: it yields one of
these operations, and is sent back what it returned (or has thrown into it what it raised). It does no
I/O of its own. :func:`drive` performs the operations on a real :class:`~.store.Store`; the tests drive
the very same generators over a model of a disk and of S3, in every interleaving of several runs, with a
fault injected at every step (``tests/exports/output/test_commit_model.py``).

Two operations are judgements, not storage calls: :class:`Stale` and :class:`AwaitLease`. The driver
makes them by the store's own clock (:class:`~.lease.Liveness`); the model lets them go either way at any
moment, so no safety property may rest on them: they only decide how soon a dead run is cleaned up.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from airflow_provider_akinon.exports.commit.lease import Liveness
    from airflow_provider_akinon.exports.commit.store import Entry, Store

T = TypeVar("T")


@dataclass(frozen=True)
class _Keyed:
    key: str


@dataclass(frozen=True)
class _Written(_Keyed):
    data: bytes


# The operations that add no field to their base's need no decorator of their own: a frozen dataclass's
# subclass keeps its fields, equality (of the same class only), hash and ``__match_args__``.


class Read(_Keyed):
    """:meth:`Store.read` of the lease or the manifest: a :class:`~.store.Found` (bytes and etag) or ``None``."""


class Create(_Written):
    """
    :meth:`Store.create`, the first write of the lease: the etag, or
    :class:`~airflow_provider_akinon.errors.WriteConflict` where another run created it first.
    """


@dataclass(frozen=True)
class Swap(_Written):
    """:meth:`Store.swap` of the lease or the manifest read with ``etag``: the new etag, or a conflict."""

    etag: str


class Put(_Written):
    """:meth:`Store.put`: a write no decision rests on (the protocol makes none; the model's broken ones do)."""


class Delete(_Keyed):
    """
    :meth:`Store.delete` of a file the manifests and the lease say is this export's to delete: a
    superseded part past its retention, a dead run's staged part, a part the manifest no longer lists.
    """


class Touch(_Keyed):
    """
    :meth:`Store.touch` of a part about to be placed: the place then gives its target the time now, also
    where a place keeps the source's (a rename on a disk); ``FileNotFoundError`` without it.
    """


@dataclass(frozen=True)
class Place:
    """
    :meth:`Store.place`, a staged part published or a replaced one kept as superseded: ``source`` may
    remain (S3) or not (a disk); the target has the source's time (a disk) or the time now (S3);
    ``FileNotFoundError`` without it.
    """

    source: str
    target: str


@dataclass(frozen=True)
class List:
    """:meth:`Store.listing`: a list of :class:`~.store.Entry` under ``prefix``."""

    prefix: str
    recursive: bool = False


@dataclass(frozen=True)
class Stale:
    """
    Has the run ``token`` stopped? A bool, judged by its newest staged object (written at ``newest``, in
    the store's clock): only how soon a dead run's staged parts are swept rests on it, never safety.
    """

    token: str
    newest: float | None


@dataclass(frozen=True)
class AwaitLease:
    """Wait until the lease (read with ``etag``) changes (``"changed"``) or ``holder`` stops (``"stale"``)."""

    holder: str
    etag: str


@dataclass(frozen=True)
class Expired:
    """Which of ``entries`` are older than the retention of superseded files: a list of their keys."""

    entries: tuple[Entry, ...]


Op = Read | Create | Swap | Put | Delete | Touch | Place | List | Stale | AwaitLease | Expired
Steps = Generator[Op, Any, T]


def perform(op: Op, store: Store, liveness: Liveness) -> Any:
    """Do ``op`` for real."""
    match op:
        case Read(key):
            return store.read(key)
        case Create(key, data):
            return store.create(key, data)
        case Swap(key, data, etag):
            return store.swap(key, data, etag)
        case Put(key, data):
            return store.put(key, data)
        case Delete(key):
            return store.delete(key)
        case Touch(key):
            return store.touch(key)
        case Place(source, target):
            return store.place(source, target)
        case List(prefix, recursive):
            return store.listing(prefix, recursive=recursive)
        case Stale(_, newest):
            return liveness.stale(newest)
        case AwaitLease(holder, etag):
            return liveness.await_lease(holder, etag)
        case Expired(entries):
            return liveness.expired(entries)
    raise TypeError(f"not an operation: {op!r}")


def drive(steps: Steps[T], store: Store, liveness: Liveness) -> T:
    """Run the protocol ``steps`` on ``store``: each operation done, its result sent back, its error thrown in."""
    result: Any = None
    error: BaseException | None = None
    while True:
        try:
            op = steps.send(result) if error is None else steps.throw(error)
        except StopIteration as done:
            return done.value
        result, error = None, None
        try:
            result = perform(op, store, liveness)
        except BaseException as err:  # an ordinary error, a task timeout: the protocol cleans up, then raises
            error = err
