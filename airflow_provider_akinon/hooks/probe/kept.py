"""The probe's answers kept a day, so that a daily task's first request after login is its first data page.

A probe is about ten requests in four rounds; every task of every day asked it again. With the
connection's ``probe_cache`` extra set, the answers are kept per tenant and question (host, prefix,
endpoint, date field, key, filters, page size and the paging extras) where every worker reads them: in
Airflow Variables (``variable``), or as small JSON files in a folder (a URI: ``s3://aws_default@lake/
akinon/probe/``, ``file:///...``). They are used while younger than :data:`MAX_AGE`, and forgotten (then
asked again) when a walk finds the list no longer answers as they say: the export is planned again on a
fresh probe. A store that cannot be read or written is no error: the probe is asked, as without one.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import orjson

from airflow_provider_akinon.hooks.probe.capabilities import Capabilities

log = logging.getLogger(__name__)

#: Answers older than this are asked again.
MAX_AGE = timedelta(days=1)
#: The prefix of the Variables the answers are kept in.
VARIABLE_PREFIX = "akinon_probe_"


class Store(Protocol):
    """Where kept answers live: a JSON text by key."""

    def get(self, key: str) -> str | None:
        """The text kept under ``key`` (``None``: none)."""

    def put(self, key: str, text: str | None) -> None:
        """Keep ``text`` under ``key`` (``None``: forget it)."""


class VariableStore:
    """Airflow Variables ``akinon_probe_<key>``: shared by every worker of the deployment."""

    def get(self, key: str) -> str | None:
        """The Variable's value (``None``: no such Variable)."""
        from airflow_provider_akinon.compat import get_variable

        value = get_variable(f"{VARIABLE_PREFIX}{key}")
        return None if value is None else str(value)

    def put(self, key: str, text: str | None) -> None:
        """Set (or, with ``None``, delete) the Variable."""
        from airflow_provider_akinon.compat import Variable

        if text is None:
            Variable.delete(f"{VARIABLE_PREFIX}{key}")
        else:
            Variable.set(f"{VARIABLE_PREFIX}{key}", text)


class FolderStore:
    """JSON files ``<key>.json`` in a folder of any storage an ``ObjectStoragePath`` reaches."""

    def __init__(self, uri: str) -> None:
        from airflow_provider_akinon.compat import ObjectStoragePath

        self.folder = ObjectStoragePath(uri.rstrip("/") + "/")

    def get(self, key: str) -> str | None:
        """The file's text (``None``: no such file)."""
        path = self.folder / f"{key}.json"
        return path.read_text() if path.exists() else None

    def put(self, key: str, text: str | None) -> None:
        """Write (or, with ``None``, remove) the file."""
        path = self.folder / f"{key}.json"
        if text is None:
            if path.exists():
                path.unlink()
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def store_for(setting: str | None) -> Store | None:
    """The store the connection's ``probe_cache`` names (``None``: answers are not kept)."""
    if not setting:
        return None
    return VariableStore() if setting == "variable" else FolderStore(setting)


class KeptProbes:
    """The answers of one connection's probes, kept in ``store``; every failure of the store is logged, never
    raised (the probe is then asked)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @staticmethod
    def key(*question: Any) -> str:
        """The key of a question (host, endpoint, fields, filters, settings): a hash, safe as a name."""
        return hashlib.sha256(orjson.dumps(question, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]

    def get(self, key: str, now: datetime | None = None) -> Capabilities | None:
        """The answers kept under ``key``, if younger than :data:`MAX_AGE`."""
        try:
            text = self.store.get(key)
            if text is None:
                return None
            kept = orjson.loads(text)
            if (now or datetime.now(UTC)) - datetime.fromisoformat(kept["probed_at"]) > MAX_AGE:
                return None
            names = {f.name for f in fields(Capabilities)}
            answers = {name: value for name, value in kept["answers"].items() if name in names}
            return Capabilities(**{**answers, "settings": tuple(answers.get("settings", ()))})
        except Exception as err:  # a store that cannot be read: ask the probe
            log.warning("The kept probe %s could not be read (%s): asking the probe", key, err)
            return None

    def put(self, key: str, caps: Capabilities | None) -> None:
        """Keep ``caps`` under ``key`` (``None``: forget what is kept there)."""
        try:
            if caps is None:
                self.store.put(key, None)
                return
            answers = {f.name: getattr(caps, f.name) for f in fields(Capabilities)}
            text = orjson.dumps({"probed_at": datetime.now(UTC).isoformat(), "answers": answers}).decode()
            self.store.put(key, text)
        except Exception as err:  # a store that cannot be written: the next task asks again
            log.warning("The probe's answers could not be kept (%s): the next task asks again", err)
