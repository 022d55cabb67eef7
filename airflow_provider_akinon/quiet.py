"""The commands' quiet: Airflow's logging at ERROR while a command whose output is its table runs, then as it was."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

LEVEL = "AIRFLOW__LOGGING__LOGGING_LEVEL"


@contextlib.contextmanager
def quiet_airflow() -> Iterator[None]:
    """
    Airflow's log level ERROR while the block runs (Airflow reads it when first imported), and the
    environment as it was afterwards: a command called in a process of its caller (a test, a DAG) must not
    silence the processes that caller starts later.
    """
    before = os.environ.get(LEVEL)
    os.environ[LEVEL] = "ERROR"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(LEVEL, None)
        else:
            os.environ[LEVEL] = before
