"""The probes of one hook: each question asked once, and its answers kept a day where the connection says.

:class:`Probes` asks :func:`~.honoured.probed` at most once per question (endpoint, date field, key,
filters) for the life of a hook, and, with the connection's ``probe_cache``, keeps the answers
(:mod:`.kept`) so that the next task of the day skips the probe: its first request after login is data.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import orjson

from airflow_provider_akinon.hooks.config import AkinonConfig
from airflow_provider_akinon.hooks.paging.records import Page, decode_page
from airflow_provider_akinon.hooks.paging.styles import known_envelopes
from airflow_provider_akinon.hooks.probe.capabilities import Capabilities
from airflow_provider_akinon.hooks.probe.honoured import probed
from airflow_provider_akinon.hooks.probe.kept import KeptProbes, store_for


class Probes:
    """
    The probes of one connection.

    :param get_page: one GET of a list's page (``get_page(endpoint, query, decoder)``), through the hook.
    :param log: where to say what was found, and whether it was kept.
    """

    def __init__(self, config: AkinonConfig, get_page: Callable[..., Page], log: Any) -> None:
        self.config, self.get_page, self.log = config, get_page, log
        store = store_for(config.probe_cache)
        self.kept = None if store is None else KeptProbes(store)
        self._asked: dict[tuple, Capabilities] = {}
        self._kept_keys: set[str] = set()  # the kept answers used, not asked
        self._lock = threading.Lock()

    def of(
        self,
        endpoint: str,
        *,
        date_field: str | None,
        params: Mapping[str, Any] | None,
        key: str,
        lookup: str | None,
        bare: bool,
    ) -> Capabilities:
        """What ``endpoint`` honours: asked once per question, or kept from a probe of the last day."""
        lookup = lookup or key
        filters = orjson.dumps(params or {}, option=orjson.OPT_SORT_KEYS).decode()
        question = (endpoint, date_field, key, lookup, bare, filters)
        with self._lock:
            if question not in self._asked:
                self._asked[question] = self._answer(question, params)
            return self._asked[question]

    def _answer(self, question: tuple, params: Mapping[str, Any] | None) -> Capabilities:
        endpoint, date_field, key, lookup, bare, _ = question
        cfg = self.config
        kept_key = KeptProbes.key(cfg.base_url, cfg.api_prefix, *question, cfg.page_size, cfg.paging)
        caps = self.kept.get(kept_key) if self.kept is not None else None
        if caps is not None:
            self.log.info("Kept probe of %s (asked within a day): %s", endpoint, caps.summary())
            self._kept_keys.add(kept_key)
        else:
            decode = partial(decode_page, key=key, allow_bare=bare, envelopes=known_envelopes())
            get = partial(self.get_page, endpoint, decoder=decode)
            caps = probed(cfg, get, endpoint, date_field=date_field, params=params, key=key, lookup=lookup)
            self.log.info("Probe of %s: %s", endpoint, caps.summary())
            if self.kept is not None:
                self.kept.put(kept_key, caps)
        if caps.capped:
            self.log.warning(
                "The API caps limit at %d (asked %d) on %s", caps.page_size, caps.limit, endpoint
            )
        return caps

    def forget_kept(self) -> bool:
        """Forget the kept answers used (here and in the store); whether there were any."""
        with self._lock:
            used = bool(self._kept_keys)
            for kept_key in self._kept_keys:
                assert self.kept is not None
                self.kept.put(kept_key, None)
            self._kept_keys.clear()
            self._asked.clear()
        return used
