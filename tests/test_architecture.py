"""The package's layers, checked from its source (no code runs): no import cycles, SQL only in
``store/``, pure ``digest/`` and ``tagging/``, jobs as the only place that composes layers,
function-level imports only where they make start-up faster (the CLI)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "aggregator"

# Third-party modules that speak SQL or drive a database.
DATABASE_MODULES = ("sqlalchemy", "sqlmodel", "alembic", "sqlite3", "psycopg")
# What code outside store/ may take from them: types for annotations, never SQL.
DATABASE_TYPES = {("sqlalchemy.engine", "Engine"), ("sqlalchemy.orm", "Session")}
# Text that is an SQL statement (outside docstrings and help texts).
SQL_TEXT = re.compile(
    r"\b(?:SELECT\s+.+\s+FROM|INSERT\s+INTO|DELETE\s+FROM|UPDATE\s+\w+\s+SET|CREATE\s+TABLE|"
    r"DROP\s+TABLE|ALTER\s+TABLE)\b",
    re.IGNORECASE | re.DOTALL,
)


@dataclass(frozen=True)
class Import:
    importer: str  # dotted module name
    target: str  # dotted module name (a module of the package or a third-party one)
    names: tuple[str, ...]  # for "from x import a, b"
    in_function: bool
    type_checking_only: bool


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> Iterator[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"

    def visit(node: ast.AST, in_function: bool, type_checking: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield Import(name, alias.name, (), in_function, type_checking)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = name.split(".") if is_package else name.split(".")[:-1]
                    anchor = anchor[: len(anchor) - (child.level - 1)]
                    base = ".".join([*anchor, *([child.module] if child.module else [])])
                names = tuple(alias.name for alias in child.names)
                # "from package import submodule" depends on the submodule, not the package.
                submodules = [f"{base}.{n}" for n in names if f"{base}.{n}" in modules]
                for target in submodules:
                    yield Import(name, target, (), in_function, type_checking)
                if len(submodules) < len(names):
                    yield Import(name, base, names, in_function, type_checking)
            elif isinstance(child, ast.If) and _is_type_checking(child):
                yield from visit(child, in_function, True)
            else:
                function = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
                yield from visit(child, in_function or function, type_checking)

    yield from visit(tree, False, False)


@pytest.fixture(scope="module")
def imports() -> list[Import]:
    modules = package_modules()
    return [found for name, path in modules.items() for found in imports_of(name, path, modules)]


def layer(module: str) -> str:
    """The layer of a package module: its package under ``aggregator`` ("" for the top-level
    domain modules; ``python -m aggregator`` belongs to the CLI)."""
    parts = module.split(".")
    if len(parts) < 2 or module == "aggregator.__main__":
        return "cli" if module == "aggregator.__main__" else ""
    return "" if len(parts) == 2 and parts[1] in TOP_LEVEL_MODULES else parts[1]


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            connect(node)
    return found


def test_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_between_modules(imports: list[Import]) -> None:
    modules = package_modules()
    edges: dict[str, set[str]] = {}
    for found in imports:
        if found.target in modules and found.target != found.importer:
            # A package importing its own submodules (its face) is not a cycle.
            if found.target.startswith(found.importer + "."):
                continue
            edges.setdefault(found.importer, set()).add(found.target)
    assert cycles(edges) == []


def test_only_the_store_speaks_sql(imports: list[Import]) -> None:
    wrong = [
        f"{i.importer} imports {i.target} {i.names or ''}"
        for i in imports
        if layer(i.importer) != "store"
        and i.target.split(".")[0] in DATABASE_MODULES
        and not (i.names and all((i.target, n) in DATABASE_TYPES for n in i.names))
    ]
    assert wrong == []


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _help_texts(tree: ast.AST) -> set[int]:
    return {
        id(keyword.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        for keyword in node.keywords
        if keyword.arg == "help"
    }


def test_no_sql_text_outside_the_store() -> None:
    wrong = []
    for name, path in package_modules().items():
        if layer(name) == "store":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skipped = _docstrings(tree) | _help_texts(tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in skipped
                and SQL_TEXT.search(node.value)
            ):
                wrong.append(f"{name}:{node.lineno}: {node.value[:60]!r}")
    assert wrong == []


TOP_LEVEL_MODULES = {
    path.stem for path in PACKAGE.glob("*.py") if path.stem not in {"__init__", "__main__"}
}

# Which layers each layer may import at run time (type-only imports are free).
ALLOWED: dict[str, set[str]] = {
    "": {""},  # top-level domain modules: article, vocab, weeks, timeutil, settings, ...
    "tagging": {"", "tagging"},
    "digest": {"", "digest"},
    "pubmed": {"", "pubmed"},
    "ctgov": {"", "ctgov", "tagging"},  # registry interventions use the article form rules
    "store": {"", "store", "digest"},  # the digest reader builds the digest's pure inputs
    "jobs": {"", "jobs", "pubmed", "ctgov", "tagging", "store", "digest"},
    # cli: the context builds the engine, lock and client; commands use jobs and pure filters.
    "cli": {"", "cli", "jobs", "store", "pubmed"},
}


def target_layer(target: str) -> str:
    part = target.split(".")[1] if target.count(".") >= 1 else ""
    return "" if part in TOP_LEVEL_MODULES else part


def test_layers_import_only_what_is_below_them(imports: list[Import]) -> None:
    wrong = [
        f"{i.importer} -> {i.target}"
        for i in imports
        if i.target.startswith("aggregator.")
        and not i.type_checking_only
        and target_layer(i.target) not in ALLOWED[layer(i.importer)]
    ]
    assert wrong == []


def test_the_cli_reaches_the_store_only_through_jobs(imports: list[Import]) -> None:
    """Commands call jobs; only the context (engine, lock) and the pure filters are used."""
    wrong = [
        f"{i.importer} -> {i.target}"
        for i in imports
        if layer(i.importer) == "cli"
        and target_layer(i.target) in {"store", "pubmed", "tagging", "digest"}
        and not i.type_checking_only
        and i.importer != "aggregator.cli.context"
        and i.target != "aggregator.store.filters"
    ]
    assert wrong == []


def test_function_level_imports_only_in_the_cli(imports: list[Import]) -> None:
    """Elsewhere every import is at the top of the module; the CLI imports jobs inside the
    commands so that `aggregator --help` does not load the database layer or the tagger."""
    wrong = [
        f"{i.importer} -> {i.target}"
        for i in imports
        if i.in_function and layer(i.importer) != "cli"
    ]
    assert wrong == []
