"""What this provider and DAG authors import from Airflow, one name for Airflow 2.11 and 3.x alike.

Example DAGs import ``DAG``, ``task``, ``Param``, ``Asset``, ``CronDataIntervalTimetable`` and ``Variable``
from here, so one DAG file runs on both Airflow lines.
"""

from __future__ import annotations

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
    from airflow.sdk import DAG, CronDataIntervalTimetable, Param, Variable, task
except ImportError:  # Airflow 2.11
    from airflow import DAG
    from airflow.decorators import task
    from airflow.models import Variable
    from airflow.models.param import Param
    from airflow.timetables.interval import CronDataIntervalTimetable

from airflow import __version__ as AIRFLOW_VERSION

AIRFLOW_V3 = int(AIRFLOW_VERSION.split(".")[0]) >= 3


def get_variable(key: str, default: object = None, *, deserialize_json: bool = False) -> object:
    """``Variable.get`` with a default, on both lines (Airflow 3 says ``default``, 2.11 ``default_var``)."""
    if AIRFLOW_V3:
        return Variable.get(key, default=default, deserialize_json=deserialize_json)
    return Variable.get(key, default_var=default, deserialize_json=deserialize_json)


__all__ = [
    "AIRFLOW_V3",
    "AIRFLOW_VERSION",
    "DAG",
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
    "TriggerEvent",
    "Variable",
    "conf",
    "get_variable",
    "mask_secret",
    "task",
]
