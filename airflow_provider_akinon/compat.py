"""What this provider and DAG authors import from Airflow, one name for Airflow 2.11 and 3.x alike.

Example DAGs import ``DAG``, ``task``, ``Param``, ``Asset``, ``CronDataIntervalTimetable`` and ``Variable``
from here, so one DAG file runs on both Airflow lines.
"""

from __future__ import annotations

import inspect
from typing import Any

from airflow.providers.common.compat.sdk import (
    AirflowException,
    Asset,
    BaseHook,
    BaseOperator,
    BaseSensorOperator,
    ObjectStoragePath,
    PokeReturnValue,
    conf,
    mask_secret,
)
from airflow.triggers.base import BaseTrigger, TriggerEvent

try:  # Airflow 3
    from airflow.sdk import DAG, Param, Variable, task
except ImportError:  # Airflow 2.11
    from airflow import DAG  # type: ignore[assignment]
    from airflow.decorators import task  # type: ignore[attr-defined,no-redef]
    from airflow.models import Variable  # type: ignore[assignment]
    from airflow.models.param import Param  # type: ignore[assignment,no-redef]

try:  # Airflow 3.2+
    from airflow.sdk import CronDataIntervalTimetable
except ImportError:  # Airflow 2.11 to 3.1
    from airflow.timetables.interval import CronDataIntervalTimetable  # type: ignore[assignment]

try:  # Airflow 3.2+: partitioned asset events and the timetables that read them
    from airflow.sdk import PartitionedAssetTimetable, StartOfDayMapper
except ImportError:  # Airflow 2.11 to 3.1
    PartitionedAssetTimetable = StartOfDayMapper = None  # type: ignore[assignment,misc]
try:  # Airflow 3.3+: partitions rolled up, a run once a window of them landed
    from airflow.sdk import DayWindow, RollupMapper
except ImportError:
    DayWindow = RollupMapper = None  # type: ignore[assignment,misc]

from airflow import __version__ as AIRFLOW_VERSION

AIRFLOW_V3 = int(AIRFLOW_VERSION.split(".")[0]) >= 3
#: Keyed (partitioned) asset events reach partitioned DAGs from Airflow 3.3 on: 3.2 has no
#: ``add_partitions`` on outlet events, and drops unkeyed events for partitioned DAGs.
PARTITIONED_EVENTS = tuple(int(part) for part in AIRFLOW_VERSION.split(".")[:2]) >= (3, 3)


_DEFAULT_KEYWORD = "default_var" if "default_var" in inspect.signature(Variable.get).parameters else "default"


def partitioned_schedule(assets: list[Any], mapper: Any = None) -> Any:
    """
    A schedule that runs once per partition of ``assets`` when every one of them has an event for it
    (``PartitionedAssetTimetable``, Airflow 3.3+: the exports must emit keyed events, ``partition_events=True``;
    ``mapper`` maps event keys to the run's partition), else, on older Airflow, the assets themselves (a run
    when all were updated).
    """
    if PartitionedAssetTimetable is None or not PARTITIONED_EVENTS:
        return assets
    combined = assets[0]
    for asset in assets[1:]:
        combined = combined & asset
    if mapper is None:
        return PartitionedAssetTimetable(assets=combined)
    return PartitionedAssetTimetable(assets=combined, default_partition_mapper=mapper)


def daily_rollup_schedule(assets: list[Any]) -> Any:
    """
    A run a day once every hour of it has an event of ``assets`` (keys ``%Y-%m-%dT%H:%M:%S``), keyed by
    the day (Airflow 3.3+: ``RollupMapper`` of ``StartOfDayMapper`` over a ``DayWindow``); else a run on
    each update of the assets.
    """
    if RollupMapper is None or StartOfDayMapper is None:
        return assets
    return partitioned_schedule(assets, RollupMapper(upstream_mapper=StartOfDayMapper(), window=DayWindow()))


def get_variable(key: str, default: object = None, *, deserialize_json: bool = False) -> object:
    """``Variable.get`` with a default, whichever ``Variable`` (the SDK's says ``default``, 2.11's ``default_var``)."""
    return Variable.get(key, deserialize_json=deserialize_json, **{_DEFAULT_KEYWORD: default})


__all__ = [
    "AIRFLOW_V3",
    "AIRFLOW_VERSION",
    "DAG",
    "PARTITIONED_EVENTS",
    "AirflowException",
    "Asset",
    "BaseHook",
    "BaseOperator",
    "BaseSensorOperator",
    "BaseTrigger",
    "CronDataIntervalTimetable",
    "ObjectStoragePath",
    "Param",
    "PokeReturnValue",
    "StartOfDayMapper",
    "TriggerEvent",
    "Variable",
    "conf",
    "daily_rollup_schedule",
    "get_variable",
    "mask_secret",
    "partitioned_schedule",
    "task",
]
