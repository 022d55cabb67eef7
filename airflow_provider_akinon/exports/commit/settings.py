"""How long a publish lease outlives a silent run, and how long superseded parts stay for readers.

Read from Airflow's configuration, section ``[akinon]`` (``AIRFLOW__AKINON__PUBLISH_LEASE_TIMEOUT`` and
so on), so one deployment sets them once for every export:

- ``publish_lease_timeout`` (seconds, 60): a run whose heartbeat stopped this long ago is judged stopped;
  the next run takes its lease over and rolls back (or finishes) what it left;
- ``superseded_retention`` (seconds, 3600): parts replaced by a newer export stay in
  ``_akinon/superseded/`` this long, for readers still reading the export they belonged to;
- ``publish_max_wait`` (seconds, 600): how long a run waits for a live run's publish to end.
"""

from __future__ import annotations

from dataclasses import dataclass

from airflow.exceptions import AirflowConfigException

from airflow_provider_akinon import CONFIG
from airflow_provider_akinon.compat import conf
from airflow_provider_akinon.errors import AkinonConfigError

SECTION = "akinon"


OPTIONS = {
    "lease_timeout": "publish_lease_timeout",
    "retention": "superseded_retention",
    "max_wait": "publish_max_wait",
}


def _default(field: str) -> float:
    return float(CONFIG[SECTION]["options"][OPTIONS[field]]["default"])


@dataclass(frozen=True)
class PublishSettings:
    """The protocol's three durations, in seconds (defaults: the provider's declared configuration)."""

    lease_timeout: float = _default("lease_timeout")
    retention: float = _default("retention")
    max_wait: float = _default("max_wait")

    @classmethod
    def from_config(cls) -> PublishSettings:
        """The settings of Airflow's ``[akinon]`` section, the defaults where unset."""
        values = {}
        for field, option in OPTIONS.items():
            try:
                values[field] = conf.getfloat(SECTION, option, fallback=_default(field))
            except (ValueError, AirflowConfigException):
                raise AkinonConfigError(
                    f"[{SECTION}] {option} must be a number of seconds; set it (or "
                    f"AIRFLOW__{SECTION.upper()}__{option.upper()}) to e.g. {_default(field):g}."
                ) from None
            if values[field] <= 0:
                raise AkinonConfigError(f"[{SECTION}] {option} must be more than 0 seconds.")
        return cls(**values)
