"""Where an export lands: its own staging folder while written, the destination once complete.

Layout of a published export::

    {destination}/part-00000-1a2b3c4d.jsonl   <- parts named after the run that wrote them
    {destination}/part-00001-1a2b3c4d.jsonl
    {destination}/_manifest.json              <- what the export is: exactly its parts, with sha256
    {destination}/_akinon/                    <- the provider's bookkeeping: the publish lease, runs'
                                                 staging, superseded parts kept for readers

The destination is shared: the provider owns only what its manifests and its lease name. Before any
request, a destination holding a Delta table, or part files of this provider's naming that none of
them accounts for, is refused; anything else (a user's ``part-0001.csv``, a ``README``) is left
untouched beside the export. A run writes into ``_akinon/staging/<token>/`` and publishes by the
protocol of :mod:`~airflow_provider_akinon.exports.commit.protocol`.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from airflow_provider_akinon import __version__
from airflow_provider_akinon.compat import ObjectStoragePath
from airflow_provider_akinon.errors import DestinationError
from airflow_provider_akinon.exports.commit.lease import LEASE, LeaseState, Liveness, staging_of
from airflow_provider_akinon.exports.commit.ops import Steps, drive
from airflow_provider_akinon.exports.commit.protocol import (
    PART_NAME,
    decode,
    drop_staging,
    sweep_staging,
)
from airflow_provider_akinon.exports.commit.protocol import publish as publish_steps
from airflow_provider_akinon.exports.commit.settings import PublishSettings
from airflow_provider_akinon.exports.commit.storage import DELTA_LOG, MANIFEST, storage_problem
from airflow_provider_akinon.exports.commit.store import Store, store_for

log = logging.getLogger(__name__)

TOKEN_TIME = "%Y%m%dT%H%M%S"


class ExportTarget:
    """
    Staging, publishing and the manifest of one export into ``destination``.

    :param settings: the lease timeout, the retention of superseded parts, the longest wait for a lease.
    """

    def __init__(self, destination: ObjectStoragePath, *, settings: PublishSettings | None = None) -> None:
        self.destination = destination
        self.settings = settings or PublishSettings.from_config()
        self.run_id = uuid.uuid4().hex[:8]
        self.token = f"{datetime.now(UTC).strftime(TOKEN_TIME)}-{self.run_id}"
        self.staging_key = staging_of(self.token)
        self.staging = destination / self.staging_key
        self._liveness: Liveness | None = None

    @property
    def uri(self) -> str:
        """The destination's URI, ending with ``/``."""
        return str(self.destination).rstrip("/") + "/"

    @property
    def local(self) -> bool:
        """Whether the destination is a local folder."""
        return self.destination.protocol in ("", "file", "local")

    @cached_property
    def store(self) -> Store:
        """The destination's :class:`Store` (a scheme without compare-and-swap is refused)."""
        return store_for(self.destination, self.staging_key)

    @contextlib.contextmanager
    def writable(self, what: str, path: Any = None) -> Iterator[None]:
        """Turn storage errors into a :class:`DestinationError` that names the path, the cause and the fix."""
        try:
            yield
        except DestinationError:
            raise
        except Exception as err:
            problem = storage_problem(err)
            if problem is None:
                raise
            where = str(path) if path is not None else self.uri
            raise DestinationError(f"Cannot {what} {where}: {problem}.") from None

    def _drive(self, steps: Steps[Any]) -> Any:
        assert self._liveness is not None, "prepare() first"
        return drive(steps, self.store, self._liveness)

    # ------------------------------------------------------------------ before any request
    def check_owner(self, *, table: bool) -> None:
        """
        Refuse a destination this export may not write: a missing bucket; a Delta table, unless ``table``
        (or a folder of file exports if ``table``); part files of this provider's naming that no manifest
        or lease of it accounts for.
        """
        with self.writable("prepare the export at"):
            self.store  # noqa: B018 - a scheme without compare-and-swap is refused here
            self._check_bucket()
            names = self._names()
            if not table and DELTA_LOG in names:
                raise DestinationError(
                    f"{self.uri} holds a Delta table ({DELTA_LOG}/): an export there would mix files into the "
                    "table's folder. Choose a folder of its own, or file_format='delta' to merge into the table."
                )
            if table and MANIFEST in names:
                raise DestinationError(
                    f"{self.uri} holds a file export ({MANIFEST}), not a Delta table. Give the Delta table a "
                    "folder of its own."
                )
            if not table:
                self._refuse_foreign_parts(names)

    def _check_bucket(self) -> None:
        bucket = "" if self.local else self.destination.path.split("/")[0]
        if bucket and not self.destination.fs.exists(bucket):
            raise DestinationError(
                f"Cannot export to {self.uri}: the bucket {bucket!r} does not exist, or the connection's "
                "credentials cannot see it. Create it first (the provider never creates buckets), or fix "
                "the connection named in the URI."
            )

    def _names(self) -> set[str]:
        return {entry.key.rstrip("/") for entry in self.store.listing("")}

    def _foreign(self, names: set[str]) -> set[str]:
        """Part-named files that neither the lease nor the manifest (read after the listing) accounts for."""
        found = self.store.read(LEASE)
        lease = LeaseState.decode(found.data) if found is not None else LeaseState()
        owned = set(lease.intent["parts"]) if lease.intent else set()
        for manifest in (lease.commit, decode(self.store.read(MANIFEST))):
            owned |= {f["name"] for f in (manifest or {}).get("files", ())} | set(
                (manifest or {}).get("replaces", ())
            )
        return {
            name
            for name in names
            if (match := PART_NAME.match(name)) and name not in owned and match["run"] not in lease.aborted
        }

    def _refuse_foreign_parts(self, names: set[str]) -> None:
        foreign = self._foreign(names)
        for _ in range(2):  # a publish may have moved on between the listing and the reads: look again
            if not foreign:
                return
            foreign &= self._foreign(self._names())
        if foreign:
            ordered = sorted(foreign)
            shown = ", ".join(ordered[:5]) + (f" and {len(ordered) - 5} more" if len(ordered) > 5 else "")
            raise DestinationError(
                f"{self.uri} holds part files that no manifest of this provider lists ({shown}): another "
                "tool's files, or an export whose manifest was lost. Nothing was touched; move them away or "
                "choose another destination."
            )

    def prepare(self) -> None:
        """Start this run's heartbeat (its staging folder), and remove the staging of runs that stopped."""
        with self.writable("prepare the export at"):
            self._liveness = Liveness(
                self.store,
                self.token,
                lease_timeout=self.settings.lease_timeout,
                retention=self.settings.retention,
                max_wait=self.settings.max_wait,
            )
            try:
                self._liveness.start()
                self._drive(sweep_staging(self.token))
            except BaseException:
                self.close()
                raise

    # ------------------------------------------------------------------ after the walk
    def publish(self, parts: list[dict[str, Any]], manifest: dict[str, Any]) -> dict[str, Any]:
        """
        Publish the staged ``parts`` with ``manifest`` by the commit protocol; return the manifest committed.

        :param parts: the staged part files as the manifest lists them (``name`` in the staging folder, with
            its suffix: the format's; ``records``, ``bytes``, ``sha256``), in order.
        """
        staged = [part for part in parts if part["records"]]
        final = [
            {**part, "name": f"part-{n:05d}-{self.run_id}.{part['name'].split('.', 1)[1]}"}
            for n, part in enumerate(staged)
        ]
        steps = publish_steps(
            self.token,
            self.run_id,
            [f"{self.staging_key}{part['name']}" for part in staged],
            final,
            {**manifest, "provider_version": __version__},
        )
        with self.writable("publish the export at"):
            return self._drive(steps)

    def close(self) -> None:
        """Stop the heartbeat and remove this run's staging folder; a failure here never fails the task."""
        if self._liveness is None:
            return
        self._liveness.stop()
        try:
            self._drive(drop_staging(self.token))
        except Exception as err:
            log.warning(
                "Could not remove this run's staging folder %s (a later run will): %s", self.staging, err
            )
