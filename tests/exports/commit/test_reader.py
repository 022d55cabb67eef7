"""Readers: pinned to the manifest they opened while the export is published again, and checked against it."""

from __future__ import annotations

import os
import time

import orjson
import pytest

from airflow_provider_akinon.errors import ExportIntegrityError
from airflow_provider_akinon.exports import destination_path, iter_export_records, merge_export, read_manifest
from airflow_provider_akinon.exports.commit.protocol import SUPERSEDED
from airflow_provider_akinon.operators.akinon import FetchOrdersOperator

DAY = {"start": "2026-01-02T00:00:00Z", "end": "2026-01-03T00:00:00Z"}


def export(destination, **kwargs):
    return FetchOrdersOperator(task_id="o", destination=str(destination), **{**DAY, **kwargs}).execute({})


def overwrite(uri, name, change):
    path = destination_path(uri) / name
    with path.open("rb") as handle:
        data = handle.read()
    with path.open("wb") as out:
        out.write(change(data))


@pytest.mark.parametrize("storage", ["file", "s3"])
@pytest.mark.parametrize("file_format", ["jsonl", "parquet"])
@pytest.mark.parametrize(
    "change",
    [
        lambda data: data[: len(data) // 2],  # truncated
        lambda data: data[:-20] + bytes(b ^ 1 for b in data[-20:]),  # same size, other bytes
    ],
    ids=["truncated", "overwritten"],
)
def test_a_tampered_part_fails_the_read_naming_the_file(
    akinon_default, tmp_path, request, storage, file_format, change
):
    dest = f"{request.getfixturevalue('s3_dest')}/t/" if storage == "s3" else str(tmp_path)
    export(dest, file_format=file_format, page_size=20, max_file_bytes=30_000)
    files = read_manifest(dest)["files"]
    assert len(files) > 1
    overwrite(dest, files[1]["name"], change)
    read = []
    with pytest.raises(ExportIntegrityError, match=rf"{files[1]['name']} does not match its manifest") as err:
        read.extend(r["id"] for r in iter_export_records(dest))
    assert "nothing of it was read" in str(err.value)
    assert len(read) == files[0]["records"]  # the first file whole, not one record of the second


def test_a_manifest_that_miscounts_a_file_fails_the_read_naming_it(akinon_default, tmp_path):
    export(tmp_path, page_size=20)
    manifest = orjson.loads((tmp_path / "_manifest.json").read_bytes())
    manifest["files"][0]["records"] += 1
    (tmp_path / "_manifest.json").write_bytes(orjson.dumps(manifest))
    name = manifest["files"][0]["name"]
    with pytest.raises(ExportIntegrityError, match=rf"{name} holds \d+ records where its manifest lists"):
        list(iter_export_records(str(tmp_path)))


@pytest.mark.parametrize("storage", ["file", "s3"])
def test_a_reader_running_through_ten_republishes_never_fails(akinon_default, tmp_path, request, storage):
    """A reader pinned to an export reads it whole, while the window is published again ten times under it
    (each time in other part files: the parts it reads move to ``_akinon/superseded/``)."""
    dest = f"{request.getfixturevalue('s3_dest')}/r/" if storage == "s3" else str(tmp_path)
    expected = akinon_default.data.expected("orders", "created_date", *DAY.values())
    export(dest, page_size=10, max_file_bytes=8_000)
    pinned = read_manifest(dest)
    assert len(pinned["files"]) > 10
    reader = iter_export_records(dest)
    got = [next(reader)["id"]]  # the reader has opened the export
    for republish in range(10):
        export(dest, page_size=10 + republish, max_file_bytes=8_000 + 1000 * republish)
        got += [next(reader)["id"] for _ in range(5)]
        assert read_manifest(dest)["version"] == pinned["version"] + republish + 1
    got += [r["id"] for r in reader]
    assert sorted(got) == expected  # the pinned export, whole: not one record of another
    superseded = destination_path(dest) / SUPERSEDED
    assert {f["name"] for f in pinned["files"]} <= {p.name for p in superseded.iterdir()}


def test_parts_superseded_past_their_retention_are_removed_and_a_late_reader_is_told(
    akinon_default, tmp_path, monkeypatch
):
    export(tmp_path, page_size=20, max_file_bytes=20_000)
    reader = iter_export_records(str(tmp_path))
    next(reader)  # pinned to version 1, one record of its first part read
    export(tmp_path, page_size=25)  # version 2: version 1's parts superseded
    old = list((tmp_path / SUPERSEDED).iterdir())
    assert old
    then = time.time() - 7200
    for path in old:
        os.utime(path, (then, then))  # superseded two hours ago, past the hour of retention
    idle = iter_export_records(str(tmp_path))  # opened (at version 2), nothing read yet
    export(tmp_path, page_size=30)  # version 3 removes them
    assert not any(p in old for p in (tmp_path / SUPERSEDED).iterdir())
    with pytest.raises(
        ExportIntegrityError, match=r"published again \(now version 3\).*superseded_retention"
    ):
        list(reader)
    expected = akinon_default.data.expected("orders", "created_date", *DAY.values())
    assert sorted(r["id"] for r in idle) == expected  # a reader that had read nothing reads the newer export


def test_merge_export_merges_the_export_it_pinned(akinon_default, tmp_path):
    """merge_export copies the export's parts out, checked, before it merges: a part changed afterwards
    fails it with the file named, and the table is not touched."""
    export(tmp_path / "p", file_format="parquet", page_size=20)
    overwrite(
        str(tmp_path / "p"), read_manifest(str(tmp_path / "p"))["files"][0]["name"], lambda d: d[:-1] + b"X"
    )
    with pytest.raises(ExportIntegrityError, match="does not match its manifest"):
        merge_export(str(tmp_path / "p"), str(tmp_path / "table"))
    assert not (tmp_path / "table").exists()
