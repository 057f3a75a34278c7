"""The house rules of the layout (README, "Layout"), checked on the source itself."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

from schemas.settings import DEFINED

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("schemas", "policies", "streams", "store", "workers", "runtime", "reports", "console", "cli", "bench")
#: who may import whom: the folder a thing lives in says what it is
ALLOWED = {
    "schemas": set(),
    "policies": {"schemas"},
    "streams": {"schemas"},
    "store": {"schemas", "policies"},
    "workers": {"schemas", "policies", "streams", "store"},
    "runtime": {"schemas", "streams", "store", "workers"},
    "reports": {"schemas", "policies"},
    # the web console calls the commands' readers (cli/), which start it (`onestop console`)
    "console": {"schemas", "policies", "streams", "store", "workers", "runtime", "reports", "cli"},
    "cli": {
        "schemas",
        "policies",
        "streams",
        "store",
        "workers",
        "runtime",
        "reports",
        "console",
        "bench",
    },  # bench: only when `onestop chaos` runs
    "bench": set(PACKAGES),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}


def _imports(name: str, path: Path, tree: ast.Module, known: set[str]) -> set[str]:
    """The project modules ``name`` imports at module level or in functions (relative ones resolved)."""
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def _imported_at_module_level(tree: ast.Module) -> tuple[str, ...]:
    """The names a module's top-level import statements give (``import a.b``: a.b; ``from a import b``: a)."""
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names.append(node.module or "")
    return tuple(names)


@cache
def _scanned() -> dict[str, tuple[frozenset[str], tuple[str, ...]]]:
    """Each module's project imports (``_imports``) and its module-level imports: every module is
    parsed once for the tests below, and only what they read is kept (not the syntax trees)."""
    modules = _modules()
    scanned = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        scanned[name] = (frozenset(_imports(name, path, tree, set(modules))), _imported_at_module_level(tree))
    return scanned


def _graph() -> dict[str, frozenset[str]]:
    return {name: imports for name, (imports, _) in _scanned().items()}


def test_packages_import_only_what_their_layer_may():
    wrong = [
        f"{a} imports {b}"
        for a, targets in _graph().items()
        for b in targets
        if b.split(".")[0] != a.split(".")[0] and b.split(".")[0] not in ALLOWED[a.split(".")[0]]
    ]
    assert wrong == []


def test_no_module_outside_bench_imports_bench_at_module_level():
    offenders = [
        f"{name}: {n}"
        for name, (_, names) in _scanned().items()
        if not name.startswith("bench")
        for n in names  # module level only: `onestop chaos` imports it when called
        if n.split(".")[0] == "bench"
    ]
    assert offenders == []


def test_no_import_cycle_among_the_project_modules():
    graph = _graph()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                cycles.append(trail[trail.index(target) :] + [target] if target in trail else [node, target])
            elif target not in state:
                visit(target, [*trail, target])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert cycles == []


def test_every_setting_is_read_in_one_module_and_listed_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert [name for name in DEFINED if f"`{name}`" not in readme] == []
    readers = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in ROOT.rglob("*.py")
        if ".venv" not in p.parts and p.name != "settings.py"
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"environ(\.get)?\(?\[?[\"']ONESTOP_", line)
    ]
    assert readers == [], "ONESTOP_* read outside schemas/settings.py"
