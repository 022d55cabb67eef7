"""``make lint`` checks the house rules no linter knows: run as ``python scripts/check_house.py``.

- no module over 300 lines (the shipped fake server aside), no function over 50 lines;
- no import circle between the package's modules, imports inside functions included (importing a module
  runs its packages' ``__init__`` too: those count);
- the rooms import one way (:data:`ROOMS`): the commit protocol no format or table, a format no commit or
  table, the HTTP core no paging or probe, paging no HTTP core or probe, the probe no HTTP core;
- exception classes are defined in ``errors.py`` only;
- the name of an output format, a paging style or a walk is a string only in its own class (the
  registries read it from there): anywhere else it is the class's ``name``;
- every third-party module the package imports is declared in ``pyproject.toml``;
- every public definition (module, class, function, method; a name without a leading ``_``) has a
  docstring (ruff's pydocstyle rules say the same in ``make lint``; this holds without them).

Exit status 1 with one line per breach; 0 and a one-line summary otherwise.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "airflow_provider_akinon"
MAX_MODULE, MAX_FUNCTION = 300, 50
LONG_MODULES_ALLOWED = {f"{PACKAGE}/testing/server.py"}
#: modules a distribution provides under another name, or that Airflow itself brings (its 2.x form)
IMPORT_NAMES = {
    "pyarrow": "pyarrow",
    "deltalake": "deltalake",
    "pyiceberg": "pyiceberg",
    "airflow": "apache-airflow",
    "msgspec": "msgspec",
}
PROVIDED_BY_AIRFLOW = {"flask_appbuilder", "flask_babel", "wtforms"}
#: paging-style names that are also the query parameter the style sends: as parameters they may be spelt
NAMES_ALSO_PARAMETERS = {"page", "cursor"}
#: What each room of the house must not import (each room's ``__init__`` says what it may use).
ROOMS = {
    "exports.commit": ("exports.formats", "exports.tables", "exports.registry", "exports.reader", "hooks"),
    "exports.formats": ("exports.commit", "exports.tables", "exports.registry", "exports.reader"),
    "hooks.http": ("hooks.paging", "hooks.probe", "hooks.akinon", "hooks.lists", "hooks.connection_test"),
    "hooks.paging": ("hooks.http", "hooks.probe", "hooks.akinon", "hooks.lists", "hooks.connection_test"),
    "hooks.probe": ("hooks.http", "hooks.akinon", "hooks.lists", "hooks.connection_test"),
}


def named_kinds(trees: dict[Path, ast.Module]) -> dict[str, tuple[Path, str]]:
    """Each format, paging style and walk name, and the module and class it is declared in."""
    homes = {}
    for path, tree in trees.items():
        for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            strings = {
                target.id: stmt.value.value
                for stmt in cls.body
                if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Constant)
                for target in stmt.targets
                if isinstance(target, ast.Name) and isinstance(stmt.value.value, str)
            }
            if "name" in strings and (
                {"suffix", "moves", "method"} & set(strings) or "needs" in ast.unparse(cls)
            ):
                homes[strings["name"]] = (path, cls.name)  # a format, a paginator or a walk
    return {name: home for name, home in homes.items() if name and name not in NAMES_ALSO_PARAMETERS}


def stray_names(path: Path, tree: ast.Module, homes: dict[str, tuple[Path, str]]) -> list[str]:
    """Strings naming a format, paging style or walk outside its own class (docstrings aside)."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    within = {
        id(inner): cls.name
        for cls in ast.walk(tree)
        if isinstance(cls, ast.ClassDef)
        for inner in ast.walk(cls)
    }
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in homes):
            continue
        home, cls = homes[node.value]
        if id(node) not in docstrings and not (home == path and within.get(id(node)) == cls):
            found.append(
                f"{node.lineno} names {node.value!r} as a string: use {cls} (declared in {home.name})"
            )
    return found


def undocumented(tree: ast.Module) -> list[str]:
    """Public definitions without a docstring: the module, its classes and functions, their methods."""
    found = [] if ast.get_docstring(tree) else ["1 the module has no docstring"]

    def visit(body: list[ast.stmt], within: str) -> None:
        for node in body:
            if not isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if node.name.startswith("_"):
                continue
            if ast.get_docstring(node) is None:
                found.append(f"{node.lineno} {within}{node.name} has no docstring")
            if isinstance(node, ast.ClassDef):
                visit(node.body, f"{within}{node.name}.")

    visit(tree.body, "")
    return found


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted((ROOT / PACKAGE).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def runtime_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import that runs (``if TYPE_CHECKING:`` blocks aside), at module level or in a function."""
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(child) for child in ast.walk(node)}
    return [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom) and id(n) not in skipped]


def imported_names(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    return [base] + [f"{base}.{alias.name}" for alias in node.names]


def graph(found: dict[str, Path]) -> dict[str, set[str]]:
    """Each module's runtime imports of the package's modules, and of the packages those run the ``__init__``
    of (its own packages aside: they are running already)."""
    edges: dict[str, set[str]] = {name: set() for name in found}
    for name, path in found.items():
        own = {".".join(name.split(".")[:n]) for n in range(1, name.count(".") + 1)}
        for node in runtime_imports(ast.parse(path.read_text())):
            for target in imported_names(node):
                parents = {".".join(target.split(".")[:n]) for n in range(2, target.count(".") + 1)}
                edges[name] |= {t for t in {target} | parents if t in found and t != name and t not in own}
    return edges


def wrong_way(edges: dict[str, set[str]]) -> list[str]:
    """Imports from a room into a room it must not use (:data:`ROOMS`)."""
    found = []
    for module, targets in sorted(edges.items()):
        for room, forbidden in ROOMS.items():
            if not module.startswith(f"{PACKAGE}.{room}"):
                continue
            for target in sorted(targets):
                bad = [
                    f for f in forbidden if target == f"{PACKAGE}.{f}" or target.startswith(f"{PACKAGE}.{f}.")
                ]
                if bad:
                    found.append(f"{module} imports {target}: the room {room} must not use {bad[0]}")
    return found


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on.add(node)
        for nxt in edges[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on.discard(top)
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    sys.setrecursionlimit(10_000)
    for node in edges:
        if node not in index:
            visit(node)
    return groups


def declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"]) + [
        s for group in project["optional-dependencies"].values() for s in group
    ]
    return {re.split(r"[\[<>=!~ ;]", spec, maxsplit=1)[0].lower().replace("_", "-") for spec in specs}


def main() -> int:
    found, breaches = modules(), []
    trees = {path: ast.parse(path.read_text()) for path in found.values() if "testing" not in path.parts}
    homes = named_kinds(trees)
    for path, tree in trees.items():
        relative = path.relative_to(ROOT).as_posix()
        breaches += [f"{relative}:{line}" for line in stray_names(path, tree, homes)]
    for name, path in found.items():
        relative = path.relative_to(ROOT).as_posix()
        lines = len(path.read_text().splitlines())
        if lines > MAX_MODULE and relative not in LONG_MODULES_ALLOWED:
            breaches.append(f"{relative}: {lines} lines (at most {MAX_MODULE})")
        tree = ast.parse(path.read_text())
        breaches += [f"{relative}:{line}" for line in undocumented(tree)]
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION:
                    breaches.append(
                        f"{relative}:{node.lineno} {node.name}(): {length} lines (at most {MAX_FUNCTION})"
                    )
            if (
                isinstance(node, ast.ClassDef)
                and name != f"{PACKAGE}.errors"
                and not relative.startswith(f"{PACKAGE}/testing")
            ):
                bases = [ast.unparse(base) for base in node.bases]
                if any(base.endswith(("Error", "Exception")) for base in bases):
                    breaches.append(
                        f"{relative}:{node.lineno} class {node.name}: exception classes live in errors.py"
                    )
        for node in runtime_imports(tree):
            top = (
                imported_names(node)[0].split(".")[0]
                if not (isinstance(node, ast.ImportFrom) and node.level)
                else PACKAGE
            )
            if top in sys.stdlib_module_names or top in (PACKAGE, "__future__") or top in PROVIDED_BY_AIRFLOW:
                continue
            distribution = IMPORT_NAMES.get(top, top).lower().replace("_", "-")
            if distribution not in declared():
                breaches.append(
                    f"{relative}:{node.lineno} imports {top}, which pyproject.toml does not declare"
                )
    edges = graph(found)
    for group in cycles(edges):
        breaches.append(f"import circle: {' -> '.join(group)}")
    breaches += wrong_way(edges)
    for breach in breaches:
        print(breach)
    if not breaches:
        print(f"house rules hold: {len(found)} modules")
    return 1 if breaches else 0


if __name__ == "__main__":
    sys.exit(main())
