"""Windows: the asset partitions a window covers."""

from __future__ import annotations

from datetime import UTC, datetime

from airflow_provider_akinon.windows import Window


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_a_window_of_whole_days_is_one_partition_a_day():
    assert Window(at("2026-01-01"), at("2026-01-04")).partition_keys() == [
        "2026-01-01",
        "2026-01-02",
        "2026-01-03",
    ]
    assert Window(at("2026-01-31"), at("2026-02-01")).partition_keys() == ["2026-01-31"]


def test_a_window_of_part_of_a_day_is_one_partition_named_by_its_start():
    # the input format of Airflow's temporal partition mappers (StartOfDayMapper maps it to the day)
    assert Window(at("2026-01-02T13:00:00"), at("2026-01-02T14:00:00")).partition_keys() == [
        "2026-01-02T13:00:00"
    ]
    assert Window(at("2026-01-02T00:00:00"), at("2026-01-02T12:00:00")).partition_keys() == [
        "2026-01-02T00:00:00"
    ]
