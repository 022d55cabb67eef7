"""The one place that knows where Airflow 2.11 and Airflow 3.x keep things."""

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
    from airflow.sdk import CronDataIntervalTimetable
except ImportError:  # Airflow 2.11
    from airflow.timetables.interval import CronDataIntervalTimetable

try:
    from airflow.sdk import Variable
except ImportError:
    from airflow.models import Variable

from airflow import __version__ as AIRFLOW_VERSION

AIRFLOW_V3 = int(AIRFLOW_VERSION.split(".")[0]) >= 3

__all__ = [
    "AIRFLOW_V3",
    "AirflowException",
    "Asset",
    "BaseHook",
    "BaseOperator",
    "BaseSensorOperator",
    "BaseTrigger",
    "CronDataIntervalTimetable",
    "ObjectStoragePath",
    "PokeReturnValue",
    "TriggerEvent",
    "Variable",
    "conf",
    "mask_secret",
]
