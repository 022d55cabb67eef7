"""The folder's Iceberg catalog: PyIceberg's own SQL catalog reads and commits its tables and it theirs, a
commit decided on old metadata is refused by either, and a process using it never configures an ORM mapper
(the moment Airflow imports all its models: about a second of every task's first Iceberg export)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("pyiceberg", reason="file_format='iceberg' needs the [iceberg] extra (Airflow 3)")

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import CommitFailedException, TableAlreadyExistsError

from airflow_provider_akinon.exports.tables.iceberg_catalog import FolderCatalog
from airflow_provider_akinon.exports.tables.iceberg_table import PROPERTIES

SCHEMA = pa.schema([pa.field("pk", pa.int64(), nullable=False)])
KINDS = {"folder": FolderCatalog, "stock": SqlCatalog}
STEP = st.tuples(st.sampled_from(sorted(KINDS)), st.sampled_from(sorted(KINDS)), st.booleans())


def catalogs(folder):
    props = {"uri": f"sqlite:///{folder / 'iceberg.db'}", "warehouse": f"file://{folder}"}
    return {name: kind("akinon", **props) for name, kind in KINDS.items()}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(creator=st.sampled_from(sorted(KINDS)), steps=st.lists(STEP, min_size=1, max_size=6))
def test_either_catalog_commits_the_others_table_and_refuses_a_stale_commit(tmp_path_factory, creator, steps):
    """Each step: ``reader`` loads the table; when ``raced``, ``racer`` appends first and the reader's append
    (decided on the older metadata) must be refused; else the reader's append lands. Both catalogs then
    read the same rows, the ones the landed appends wrote."""
    folder = tmp_path_factory.mktemp("catalog")
    both = catalogs(folder)
    both[creator].create_namespace("akinon")
    location = f"file://{folder}/t"
    both[creator].create_table("akinon.t", SCHEMA, location=location, properties=PROPERTIES)
    for catalog in both.values():  # the name is taken, whoever asks
        with pytest.raises(TableAlreadyExistsError):
            catalog.create_table("akinon.t", SCHEMA, location=location, properties=PROPERTIES)
    landed: list[int] = []
    for n, (reader, racer, raced) in enumerate(steps):
        table = both[reader].load_table("akinon.t")
        mine = pa.table({"pk": [2 * n]}, schema=SCHEMA)
        if raced:
            both[racer].load_table("akinon.t").append(pa.table({"pk": [2 * n + 1]}, schema=SCHEMA))
            landed.append(2 * n + 1)
            with pytest.raises(CommitFailedException):
                table.append(mine)
        else:
            table.append(mine)
            landed.append(2 * n)
    for catalog in both.values():
        assert sorted(catalog.load_table("akinon.t").scan().to_arrow()["pk"].to_pylist()) == sorted(landed)
    assert all(catalog.namespace_exists("akinon") for catalog in both.values())


NO_MAPPER = textwrap.dedent(
    """
    import sys
    import pyarrow as pa
    import airflow.models  # as in a task: Airflow's models import all of theirs when a mapper configures
    from pyiceberg.catalog.sql import IcebergTables, SqlCatalog
    from airflow_provider_akinon.compat import ObjectStoragePath
    from airflow_provider_akinon.exports.tables import iceberg_table

    if sys.argv[2] == "stock":
        import airflow_provider_akinon.exports.tables.iceberg_catalog as module
        module.FolderCatalog = SqlCatalog  # the control: PyIceberg's ORM statements
    where = ObjectStoragePath("file://" + sys.argv[1])
    table = iceberg_table.open_table(where, pa.schema([pa.field("pk", pa.int64(), nullable=False)]))
    table.append(pa.table({"pk": [1]}, schema=table.schema().as_arrow()))
    iceberg_table.open_table(where, None).append(pa.table({"pk": [2]}, schema=table.schema().as_arrow()))
    print(IcebergTables.__mapper__.configured)
    """
)


@pytest.mark.parametrize(("kind", "configured"), [("folder", "False"), ("stock", "True")])
def test_an_export_configures_no_orm_mapper(tmp_path, kind, configured):
    """The control (PyIceberg's own catalog) configures the mappers, so the check can fail."""
    done = subprocess.run(
        [sys.executable, "-c", NO_MAPPER, str(tmp_path / "t"), kind],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[-1] == configured
