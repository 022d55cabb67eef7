"""``scripts/check_house.py`` finds what it is there to find: each rule fails on a planted breach."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

ROOT = Path(__file__).parents[1]
spec = importlib.util.spec_from_file_location("check_house", ROOT / "scripts" / "check_house.py")
house = importlib.util.module_from_spec(spec)
spec.loader.exec_module(house)


def test_the_house_rules_hold_on_the_package():
    assert house.main() == 0


def test_a_public_definition_without_a_docstring_is_found():
    tree = ast.parse(
        '"""A module."""\n'
        "class Kept:\n"
        '    """Documented."""\n'
        "    def method(self): ...\n"
        "    def _private(self): ...\n"
        "def function(): ...\n"
        "def _helper(): ...\n"
    )
    assert house.undocumented(tree) == ["4 Kept.method has no docstring", "6 function has no docstring"]
    assert house.undocumented(ast.parse("x = 1\n")) == ["1 the module has no docstring"]


def test_a_format_paging_or_walk_name_as_a_string_elsewhere_is_found():
    package = ROOT / "airflow_provider_akinon"
    trees = {
        path: ast.parse(path.read_text()) for path in package.rglob("*.py") if "testing" not in path.parts
    }
    homes = house.named_kinds(trees)
    assert {"jsonl", "parquet", "delta", "iceberg", "keyset", "bisect"} <= set(homes)
    planted = ast.parse(
        'def export():\n    """Docs may say "delta"."""\n    return run(file_format="delta")\n'
    )
    found = house.stray_names(package / "planted.py", planted, homes)
    assert len(found) == 1
    assert found[0].startswith("3 names 'delta' as a string: use Delta")


def _modules(tmp_path: Path, sources: dict[str, str]) -> dict[str, Path]:
    """Planted modules (``{dotted name: source}``) as files, the way ``check_house.modules()`` lists them."""
    found = {}
    for name, source in sources.items():
        path = tmp_path / f"{name}.py"
        path.write_text(source)
        found[name] = path
    return found


def test_an_import_from_a_room_into_one_it_must_not_use_is_found(tmp_path):
    p = house.PACKAGE
    found = _modules(
        tmp_path,
        {
            f"{p}.exports.commit.target": f"from {p}.exports.formats.parts import PartFile\n",
            f"{p}.exports.formats.parts": f"from {p}.hooks.paging.records import Records\n",
            f"{p}.hooks.paging.records": "import orjson\n",
            f"{p}.hooks.http.rules": f"def late():\n    from {p}.hooks.paging.records import Page\n",
            f"{p}.exports.tables.merging": f"from {p}.exports.commit.target import ExportTarget\n",
        },
    )
    assert house.wrong_way(house.graph(found)) == [
        f"{p}.exports.commit.target imports {p}.exports.formats.parts: the room exports.commit must not use "
        "exports.formats",
        f"{p}.hooks.http.rules imports {p}.hooks.paging.records: the room hooks.http must not use hooks.paging",
    ]  # formats -> paging and tables -> commit are the right way


def test_a_circle_through_a_package_init_is_found(tmp_path):
    p = house.PACKAGE
    found = _modules(
        tmp_path,
        {
            f"{p}.a": f"from {p}.b.c import thing\n",  # runs {p}.b's __init__ first
            f"{p}.b": f"from {p}.a import other\n",
            f"{p}.b.c": "thing = 1\n",
        },
    )
    assert house.cycles(house.graph(found)) == [[f"{p}.a", f"{p}.b"]]
