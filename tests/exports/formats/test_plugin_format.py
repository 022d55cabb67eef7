"""A format written outside the package (CSV, in this file only) and registered with one line exports,
reads back, and is cleaned up after a dead run like the formats the package ships."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any, BinaryIO

import orjson
import pytest

from airflow_provider_akinon.errors import AkinonConfigError, DestinationError
from airflow_provider_akinon.exports import iter_export_records, read_manifest
from airflow_provider_akinon.exports.formats.base import Format
from airflow_provider_akinon.exports.registry import FORMATS
from tests.exports.commit.test_publish import DAY, age_runs, export, publish_killed_at, tidy


class CsvEncoder:
    """One header row (the first record's keys), then one row a record; nested values as JSON."""

    def __init__(self, out: BinaryIO) -> None:
        self.out, self.written, self.columns = out, 0, None

    def write(self, records: Any) -> None:
        text = io.StringIO()
        rows = csv.writer(text)
        for record in records:
            if self.columns is None:
                self.columns = list(record)
                rows.writerow(self.columns)
            rows.writerow(
                [v if isinstance(v, str) else orjson.dumps(v).decode() for v in map(record.get, self.columns)]
            )
        blob = text.getvalue().encode()
        self.out.write(blob)
        self.written += len(blob)

    def close(self) -> None:
        pass


class Csv(Format):
    name = "csv"
    suffix = "csv"

    def encoder(self, out: BinaryIO, resource: Any, zone: Any) -> CsvEncoder:
        return CsvEncoder(out)

    def read(self, handle: BinaryIO, column: str | None) -> Iterator[Any]:
        for row in csv.DictReader(io.TextIOWrapper(handle, encoding="utf-8", newline="")):
            record = {key: orjson.loads(value) if key == "id" else value for key, value in row.items()}
            yield record if column is None else record[column]


@pytest.fixture(autouse=True)
def csv_format(monkeypatch):
    monkeypatch.setitem(FORMATS, "csv", Csv())  # the one line that registers it


def test_a_csv_export_is_published_with_its_manifest_and_read_back(akinon_default, tmp_path):
    summary = export(tmp_path / "csv", file_format="csv", page_size=20, max_file_bytes=20_000)
    manifest = read_manifest(str(tmp_path / "csv"))
    assert manifest["format"] == "csv"
    assert len(manifest["files"]) > 1
    assert all(f["name"].endswith(".csv") for f in manifest["files"])
    ids = [record["id"] for record in iter_export_records(str(tmp_path / "csv"))]
    assert ids == akinon_default.data.expected("orders", "created_date", *DAY.values())
    assert summary["records"] == manifest["records"] == len(ids)


def test_a_dead_csv_run_is_cleaned_up_by_the_next_and_a_stray_csv_part_refused(akinon_default, tmp_path):
    dest = tmp_path / "p"
    code, steps = publish_killed_at(dest, 10_000, file_format="csv")  # undisturbed: counts the steps
    assert code == 0
    assert steps >= 6
    for step in range(2, steps + 1):  # killed at every write of the publish after the lease is taken
        code, _ = publish_killed_at(dest, step, file_format="csv")
        assert code == -9
        age_runs(dest)  # the next run comes after retry_delay
        export(dest, file_format="csv", page_size=25)
        manifest, ids = tidy(dest)  # only the export's own .csv parts: the dead run's are gone
        assert manifest["format"] == "csv"
        assert sorted(ids) == akinon_default.data.expected("orders", "created_date", *DAY.values())
    (dest / "part-00007.csv").write_text("id\n1\n")  # named as this provider would name a csv part
    with pytest.raises(DestinationError, match=r"part-00007\.csv"):
        export(dest, file_format="csv", page_size=25)


def test_a_format_registered_without_its_name_is_refused_before_any_request(
    akinon_default, tmp_path, monkeypatch
):
    class Nameless(Csv):
        name = ""

    monkeypatch.setitem(FORMATS, "nameless", Nameless())
    with pytest.raises(AkinonConfigError, match=r"declares name=''.*set name = 'nameless'"):
        export(tmp_path / "n", file_format="nameless")
    assert akinon_default.log.requests == 0
    assert not list(tmp_path.rglob("_manifest.json"))


def test_reading_an_export_whose_format_is_not_registered_names_the_module_to_import(
    akinon_default, tmp_path, monkeypatch
):
    export(tmp_path / "csv", file_format="csv", page_size=50)
    assert read_manifest(str(tmp_path / "csv"))["format_module"] == __name__
    monkeypatch.delitem(FORMATS, "csv")  # a reader in a process that never imported this module
    with pytest.raises(AkinonConfigError, match=f"registered by {__name__}: import {__name__}"):
        next(iter_export_records(str(tmp_path / "csv")))
