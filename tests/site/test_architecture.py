"""The layering ARCHITECTURE.md fixes, read from the source: only the ML backend imports ``mlcore``, and no
first-party modules import each other in a circle — counting imports inside functions, where cycles hide.

Every top-level package but ``tests`` and ``bench`` is checked, migrations included: Django imports them at
every ``migrate``, so one that reaches into ``mlcore`` ties the schema history to the ML core, and they cannot
make false cycles (nothing imports a migration). Imports under ``if TYPE_CHECKING:`` never run and are left out.
That ``mlcore`` never imports Django is tests/mlcore/test_boundaries.py's job.
"""

from __future__ import annotations

import ast
import textwrap
from collections import deque
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
NOT_CHECKED = {"tests", "bench"}
ML_CORE = "mlcore"
BACKEND = "predictions.ml"


@dataclass(frozen=True)
class Import:
    module: str
    target: str  # absolute: the module imported, or the package a name was taken from
    path: str
    line: int
    scope: str  # the function or class the import sits in; "" at module level

    def where(self) -> str:
        inside = f", inside {self.scope}" if self.scope else ""
        return f"{self.path}:{self.line}{inside}"


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def first_party_modules(root: Path) -> dict[str, Path]:
    """Every module of the top-level packages under ``root``, by dotted name."""
    modules = {}
    for init in sorted(root.glob("*/__init__.py")):
        if init.parent.name in NOT_CHECKED:
            continue
        for path in sorted(init.parent.rglob("*.py")):
            if (path.with_suffix("") / "__init__.py").exists():
                continue  # a package of the same name shadows the module, as it does for Python
            parts = path.relative_to(root).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class ImportCollector(ast.NodeVisitor):
    def __init__(self, module: str, path: str, is_package: bool, modules: dict[str, Path]) -> None:
        self.module, self.path, self.modules = module, path, modules
        self.package = module if is_package else module.rpartition(".")[0]
        self.scope: list[str] = []
        self.found: list[Import] = []

    def add(self, target: str, node: ast.stmt) -> None:
        self.found.append(Import(self.module, target, self.path, node.lineno, ".".join(self.scope)))

    def visit_If(self, node: ast.If) -> None:
        if not is_type_checking(node.test):
            self.generic_visit(node)
            return
        for statement in node.orelse:
            self.visit(statement)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    visit_AsyncFunctionDef = visit_ClassDef = visit_FunctionDef

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.add(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            parts = self.package.split(".")
            base = ".".join([*parts[: len(parts) - node.level + 1], *([base] if base else [])])
        for alias in node.names:
            submodule = f"{base}.{alias.name}"
            self.add(submodule if submodule in self.modules else base, node)


def imports_of(root: Path) -> tuple[dict[str, Path], list[Import]]:
    modules = first_party_modules(root)
    found = []
    for name, path in modules.items():
        collector = ImportCollector(name, str(path.relative_to(root)), path.name == "__init__.py", modules)
        collector.visit(ast.parse(path.read_text(), filename=str(path)))
        found += collector.found
    return modules, found


def mlcore_imports_outside_the_backend(root: Path) -> list[str]:
    """Each import of ``mlcore`` by a module that is neither ``mlcore`` nor the backend (``predictions.ml``)."""
    _, found = imports_of(root)
    offenders = (
        f"{i.module} imports {i.target} ({i.where()})"
        for i in found
        if within(i.target, ML_CORE) and not within(i.module, ML_CORE) and not within(i.module, BACKEND)
    )
    return list(dict.fromkeys(offenders))  # ``from m import a, b`` names ``m`` once


def import_graph(root: Path) -> dict[str, dict[str, Import]]:
    """Module → the first-party modules it imports, each with its first import statement.

    ``import a.b.c`` is an edge to ``a.b.c`` alone, not to ``a`` and ``a.b``: a package re-exporting its
    submodules would otherwise be in a cycle with each of them.
    """
    modules, found = imports_of(root)
    graph: dict[str, dict[str, Import]] = {name: {} for name in modules}
    for i in found:
        target = i.target
        while target not in modules and "." in target:
            target = target.rpartition(".")[0]
        if target in modules and target != i.module:
            graph[i.module].setdefault(target, i)
    return graph


def strongly_connected(graph: dict[str, dict[str, Import]]) -> list[set[str]]:
    """Tarjan's strongly connected components."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while (member := stack.pop()) != node:
                component.add(member)
            components.append(component | {node})

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def shortest_path(graph: dict[str, dict[str, Import]], start: str, end: str, allowed: set[str]) -> list[str]:
    came_from = {start: start}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for target in sorted(graph[node]):
            if target in allowed and target not in came_from:
                came_from[target] = node
                queue.append(target)
    path = [end]
    while path[-1] != start:
        path.append(came_from[path[-1]])
    return path[::-1]


def import_cycles(root: Path) -> list[str]:
    """Each import cycle, one chain per import that takes part in one, e.g. ``a → b (a.py:3) → a (b.py:1)``."""
    graph = import_graph(root)
    cycles: set[tuple[str, ...]] = set()
    for component in strongly_connected(graph):
        if len(component) < 2:
            continue
        for source in component:
            for target in graph[source].keys() & component:
                cycle = [source, *shortest_path(graph, target, source, component)[:-1]]
                first = cycle.index(min(cycle))
                cycles.add(tuple(cycle[first:] + cycle[:first]))
    chains = []
    for cycle in sorted(cycles, key=lambda c: (len(c), c)):
        steps = [f"{target} ({graph[source][target].where()})" for source, target in pairwise((*cycle, cycle[0]))]
        chains.append(" → ".join([cycle[0], *steps]))
    return chains


def write_tree(root: Path, files: dict[str, str]) -> Path:
    """Packages under ``root``, sources dedented: every folder on a file's way gets an ``__init__.py``."""
    for name, source in files.items():
        path = root / name
        for folder in path.relative_to(root).parents:
            if folder != Path(".") and not (root / folder / "__init__.py").exists():
                (root / folder).mkdir(parents=True, exist_ok=True)
                (root / folder / "__init__.py").write_text("")
        path.write_text(textwrap.dedent(source).lstrip("\n"))
    return root


@pytest.mark.parametrize(
    "module",
    [
        "predictions/views.py",
        "predictions/ml_old.py",  # named like the backend, but beside it
        "annotations/learning.py",
        "modelops/management/commands/train.py",
        "infantino_site/settings.py",
        "accounts/migrations/0002_labels.py",
    ],
)
def test_a_module_outside_the_backend_that_imports_mlcore_is_named_with_its_line(tmp_path, module):
    name = module.removesuffix(".py").replace("/", ".")
    write_tree(tmp_path, {"mlcore/model.py": "X = 1\n", module: '"""A module."""\n\nfrom mlcore.model import X\n'})

    assert mlcore_imports_outside_the_backend(tmp_path) == [f"{name} imports mlcore.model ({module}:3)"]


@pytest.mark.parametrize(
    "module", ["predictions/ml/real.py", "predictions/ml/__init__.py", "predictions/ml.py", "mlcore/training/data.py"]
)
def test_the_backend_and_mlcore_itself_may_import_mlcore(tmp_path, module):
    write_tree(tmp_path, {"mlcore/model.py": "X = 1\n", module: "from mlcore.model import X\n"})

    assert mlcore_imports_outside_the_backend(tmp_path) == []


def test_an_import_of_mlcore_hidden_in_a_method_is_found_as_is_a_plain_import_of_the_package(tmp_path):
    write_tree(
        tmp_path,
        {
            "mlcore/learner.py": "",
            "predictions/services.py": """
                import mlcore

                class Service:
                    def run(self):
                        from mlcore import learner
            """,
        },
    )

    assert mlcore_imports_outside_the_backend(tmp_path) == [
        "predictions.services imports mlcore (predictions/services.py:1)",
        "predictions.services imports mlcore.learner (predictions/services.py:5, inside Service.run)",
    ]


@pytest.mark.parametrize("back_import", ["from . import a", "from .a import f", "import pkg.a", "from pkg import a"])
def test_a_back_import_of_a_module_that_imports_inside_a_function_makes_a_cycle_that_says_where(tmp_path, back_import):
    write_tree(tmp_path, {"pkg/a.py": "def f():\n    from pkg import b\n", "pkg/b.py": f"{back_import}\n"})

    assert import_cycles(tmp_path) == ["pkg.a → pkg.b (pkg/a.py:2, inside f) → pkg.a (pkg/b.py:1)"]


def test_a_name_taken_from_a_package_is_an_import_of_the_package_and_can_close_a_cycle(tmp_path):
    write_tree(
        tmp_path,
        {
            "pkg/__init__.py": "from .a import f\n",
            "pkg/a.py": "def f():\n    from pkg import b\n",
            "pkg/b.py": "from pkg import f\n",
        },
    )

    assert import_cycles(tmp_path) == [
        "pkg → pkg.a (pkg/__init__.py:1) → pkg.b (pkg/a.py:2, inside f) → pkg (pkg/b.py:1)"
    ]


def test_a_longer_cycle_is_printed_as_the_whole_chain(tmp_path):
    write_tree(
        tmp_path,
        {
            "app/api/views.py": "from ..services import run\n",
            "app/services.py": "from .selectors import pick\n\ndef run():\n    pass\n",
            "app/selectors.py": "def pick():\n    from app.models import Row\n",
            "app/models.py": "import app.api.views\n\nclass Row:\n    pass\n",
        },
    )

    assert import_cycles(tmp_path) == [
        "app.api.views → app.services (app/api/views.py:1) → app.selectors (app/services.py:1)"
        " → app.models (app/selectors.py:2, inside pick) → app.api.views (app/models.py:1)"
    ]


@pytest.mark.parametrize(
    "guard", ["from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:", "import typing\n\nif typing.TYPE_CHECKING:"]
)
def test_a_back_import_only_for_type_checking_is_no_cycle(tmp_path, guard):
    write_tree(
        tmp_path,
        {
            "pkg/a.py": "from pkg.b import B\n\nclass A:\n    pass\n",
            "pkg/b.py": f"{guard}\n    from pkg.a import A\n\nclass B:\n    pass\n",
        },
    )

    assert import_cycles(tmp_path) == []


def test_a_package_re_exporting_its_submodules_is_no_cycle(tmp_path):
    write_tree(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.a import f\nfrom . import b\n",
            "pkg/a.py": "import pkg.b\n\ndef f():\n    from pkg import b\n",
            "pkg/b.py": "",
        },
    )

    assert import_cycles(tmp_path) == []


def test_the_rules_read_every_app_the_site_and_mlcore_of_this_repository_but_not_its_tests():
    packages = {name.partition(".")[0] for name in first_party_modules(REPO_ROOT)}

    assert packages >= {"accounts", "annotations", "predictions", "modelops", "infantino_site", ML_CORE}
    assert not packages & NOT_CHECKED
    assert "predictions.migrations.0001_initial" in first_party_modules(REPO_ROOT)


def test_only_the_ml_backend_imports_mlcore_in_this_repository():
    offenders = mlcore_imports_outside_the_backend(REPO_ROOT)
    assert not offenders, f"only {BACKEND} may import {ML_CORE}:\n" + "\n".join(offenders)


def test_no_first_party_modules_of_this_repository_import_each_other_in_a_circle():
    cycles = import_cycles(REPO_ROOT)
    assert not cycles, "import cycles (move the shared names to the lower module):\n" + "\n".join(cycles)
