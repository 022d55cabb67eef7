"""The walks of an export, one class each, in :data:`WALKS`; :func:`run` walks a plan into a sink.

The plan names its walk by class (:attr:`~airflow_provider_akinon.exports.plan.Plan.walk`); the walk
runs on the plan's source and decides nothing again. List walks (:class:`~.window.ListWalk`) walk a
date window in sub-windows, or an id range: by keyset (id-range shards, each with a cursor), by the
list's own pages, or, where the list ignores its date filter, by bisection on ids, newest first, or a
whole scan, cut on the client. Children are fetched by their parents (:class:`~.children.ChildrenWalk`).
A new way to walk is a class with a ``name`` and a line here; a new paging style is a paginator
(:mod:`airflow_provider_akinon.hooks.paging.styles`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_akinon.exports.progress import Progress
from airflow_provider_akinon.exports.walks.bisect import BisectWalk
from airflow_provider_akinon.exports.walks.children import ChildrenWalk
from airflow_provider_akinon.exports.walks.context import Sink, Tally, WalkJob
from airflow_provider_akinon.exports.walks.keyset import KeysetWalk
from airflow_provider_akinon.exports.walks.pages import FullScanWalk, NearEndWalk, PageWalk
from airflow_provider_akinon.hooks.akinon import AkinonHook

if TYPE_CHECKING:
    from airflow_provider_akinon.exports.plan import Plan

#: Every walk, by the name the manifest records (``paging``).
WALKS: dict[str, type[Any]] = {
    walk.name: walk for walk in (KeysetWalk, PageWalk, BisectWalk, NearEndWalk, FullScanWalk, ChildrenWalk)
}

__all__ = [
    "WALKS",
    "BisectWalk",
    "ChildrenWalk",
    "FullScanWalk",
    "KeysetWalk",
    "NearEndWalk",
    "PageWalk",
    "run",
]


def run(plan: Plan, hook: AkinonHook, sink: Sink, progress: Progress) -> tuple[Tally, dict[str, Any]]:
    """Walk ``plan`` into ``sink`` by the plan's walk; return what was found, and how (for the manifest)."""
    return plan.walk.export(WalkJob(plan, hook, sink, progress))
