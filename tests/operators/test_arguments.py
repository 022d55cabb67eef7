"""Bad arguments are refused before any request or write, with a message that names the fix."""

from __future__ import annotations

from datetime import timedelta

import pytest

from airflow_provider_akinon.errors import AkinonConfigError, WindowError
from airflow_provider_akinon.operators.akinon import FetchOrdersOperator

DAY = {"start": "2026-01-02T00:00:00Z", "end": "2026-01-03T00:00:00Z"}


def refused(akinon_default, tmp_path, error, match, **kwargs):
    arguments = {**DAY, **kwargs}
    with pytest.raises(error, match=match) as caught:
        FetchOrdersOperator(task_id="o", destination=str(tmp_path / "out"), **arguments).execute({})
    assert akinon_default.log.requests == 0
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    return str(caught.value)


@pytest.mark.parametrize("step", [1, 3600.0, "1"])
def test_a_bare_number_as_window_step_is_refused(akinon_default, tmp_path, step):
    refused(akinon_default, tmp_path, WindowError, "timedelta or an ISO 8601 duration", window_step=step)


def test_a_window_step_that_cuts_too_many_sub_windows_is_refused(akinon_default, tmp_path):
    message = refused(akinon_default, tmp_path, WindowError, "sub-windows", window_step=timedelta(seconds=10))
    assert "8,640" in message


@pytest.mark.parametrize(("name", "value"), [("start", "P1D"), ("end", 12.5), ("start", "yesterday")])
def test_a_window_bound_that_is_not_a_date_names_itself(akinon_default, tmp_path, name, value):
    refused(akinon_default, tmp_path, WindowError, f"{name}={value!r} is not an ISO date", **{name: value})


def test_a_start_after_the_end_says_so(akinon_default, tmp_path):
    message = refused(
        akinon_default, tmp_path, WindowError, "start .* is after end", start=DAY["end"], end=DAY["start"]
    )
    assert "CronTriggerTimetable" not in message


@pytest.mark.parametrize(
    ("name", "value", "match"),
    [
        ("max_file_bytes", "1MB", "max_file_bytes must be an integer"),
        ("max_concurrency", "4", "max_concurrency must be an integer"),
        ("page_size", 0, "page_size must be an integer"),
        ("filters", "status=400", "filters must be a dict"),
        ("paging", "fast", "paging='fast' is not supported"),
        ("file_format", "csv", "file_format='csv' is not supported"),
        ("date_field", "updated_at", "date_field='updated_at' is not supported"),
    ],
)
def test_arguments_of_the_wrong_type_are_named(akinon_default, tmp_path, name, value, match):
    refused(akinon_default, tmp_path, AkinonConfigError, match, **{name: value})


@pytest.mark.parametrize(
    ("parameter", "instead"),
    [
        ("limit", "page_size"),
        ("page", "the provider pages"),
        ("sort", "the provider sorts"),
        ("created_date__lt", "start= and end="),
        ("id__gt", "id_range"),
        ("offset", "the provider pages"),
    ],
)
def test_filters_that_collide_with_the_providers_own_parameters_are_refused(
    akinon_default, tmp_path, parameter, instead
):
    message = refused(
        akinon_default, tmp_path, AkinonConfigError, f"filters={{'{parameter}'", filters={parameter: "1"}
    )
    assert instead in message
