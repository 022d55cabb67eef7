"""The connection test: a login and a probe of the orders list, answered in seconds whatever the server does."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

from airflow_provider_akinon.errors import AkinonApiError, AkinonConfigError
from airflow_provider_akinon.hooks.config import AkinonConfig
from airflow_provider_akinon.hooks.http.core import RequestCore
from airflow_provider_akinon.hooks.paging.records import decode_page
from airflow_provider_akinon.hooks.probe.honoured import probed
from airflow_provider_akinon.resources import ORDERS

#: A connection test never waits longer than this for one step (connect, or an answer) ...
TEST_TIMEOUT = 10.0
#: ... nor longer than this in all, whatever the server does.
TEST_BUDGET = 14.0


def quick_test(config: AkinonConfig, *, log: Any, sleep: Callable[[float], None]) -> tuple[bool, str]:
    """
    Log in and probe the orders list with no retries, at most ``TEST_TIMEOUT`` per step and
    ``TEST_BUDGET`` in all: ``(ok, one line)``.

    :param config: the validated connection.
    :param log: where the request core logs.
    :param sleep: how the core waits (replaced in tests).
    """
    quick = replace(
        config.with_retry(max_retries=0),
        timeout=min(config.timeout, TEST_TIMEOUT),
        connect_timeout=min(config.connect_timeout, TEST_TIMEOUT),
    )
    core = RequestCore(quick, log=log, sleep=sleep, until=time.monotonic() + TEST_BUDGET)
    url = core.url_for(ORDERS.endpoint)
    decode = partial(decode_page, key=ORDERS.primary_key)
    try:
        caps = probed(
            config,
            lambda params: core.call("GET", url, query=params, decode=decode),
            ORDERS.endpoint,
            date_field="created_date",
        )
    except (AkinonApiError, AkinonConfigError) as err:
        return False, str(err)
    finally:
        core.transport.close()
    return True, f"Connected to {config.base_url}: {caps.summary('orders')}"
