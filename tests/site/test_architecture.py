"""The layering ARCHITECTURE.md fixes, read from the source.

The room order, the one door to ``mlcore`` and ``mlcore`` apart from Django are import-linter contracts
(``.importlinter``, run by ``make test``): here they are run on this repository and shown failing on a fixture tree.
What import-linter has no contract for is checked by hand below: no first-party modules import each other in a
circle — counting imports inside functions, where cycles hide; no room names another room's task; and no app or
template reads a model version's raw tags or metrics, which only the backend and ``mlcore`` know the keys of.

Every top-level package but ``tests`` and ``bench`` is checked, migrations included: Django imports them at
every ``migrate``, so one that reaches into ``mlcore`` ties the schema history to the ML core, and they cannot
make false cycles (nothing imports a migration). Imports under ``if TYPE_CHECKING:`` never run and are left out.
That ``mlcore`` never imports Django is a contract too (and tests/mlcore/test_boundaries.py's job).
"""

from __future__ import annotations

import ast
import configparser
import re
import subprocess
import sys
import textwrap
from collections import deque
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
NOT_CHECKED = {"tests", "bench"}
ML_CORE = "mlcore"


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

    assert packages >= {"accounts", "annotations", "common", "predictions", "modelops", "infantino_site", ML_CORE}
    assert not packages & NOT_CHECKED
    assert "predictions.migrations.0001_initial" in first_party_modules(REPO_ROOT)


def test_no_first_party_modules_of_this_repository_import_each_other_in_a_circle():
    cycles = import_cycles(REPO_ROOT)
    assert not cycles, "import cycles (move the shared names to the lower module):\n" + "\n".join(cycles)


# ---- the import-linter contracts -----------------------------------------------------------------------------
CONTRACTS = REPO_ROOT / ".importlinter"
MLCORE_APART = "mlcore never imports Django or the apps"
ONE_DOOR = "Only the backend (predictions.ml) imports mlcore"
ROOMS = "A room imports only the rooms below it (docs/ARCHITECTURE.md)"


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` with this repository's contracts, on the packages under ``root`` (its working folder)."""
    command = Path(sys.executable).with_name("lint-imports")
    return subprocess.run(
        [str(command), "--config", str(CONTRACTS), "--no-cache"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )


def verdicts(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """Contract name → KEPT or BROKEN, from lint-imports' summary."""
    found = {}
    for line in result.stdout.splitlines():
        for verdict in ("KEPT", "BROKEN"):
            name, _, rest = line.partition(f" {verdict}")
            if name in (MLCORE_APART, ONE_DOOR, ROOMS) and (rest == "" or rest.startswith(" (")):
                found[name] = verdict
    return found


def room_tree(root: Path) -> Path:
    """Empty stand-ins for every module the contracts name, and a backend that imports mlcore, as the real one does."""
    config = configparser.ConfigParser()
    config.read(CONTRACTS)
    named = config["importlinter"]["root_packages"].split()
    for layer in config["importlinter:contract:rooms"]["layers"].split("\n"):
        named += [module.strip() for module in layer.replace("|", ":").split(":") if module.strip()]
    files = {name.replace(".", "/") + ("/__init__.py" if "." not in name else ".py"): "" for name in named}
    files["mlcore/model.py"] = "X = 1\n"
    files["predictions/ml/real.py"] = "from mlcore.model import X\n"
    files["predictions/views.py"] = "from predictions.ml import real\n"
    return write_tree(root, files)


def test_this_repository_keeps_every_contract():
    result = lint_imports(REPO_ROOT)

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert verdicts(result) == {MLCORE_APART: "KEPT", ONE_DOOR: "KEPT", ROOMS: "KEPT"}


def test_the_fixture_rooms_keep_every_contract_as_they_stand(tmp_path):
    assert verdicts(lint_imports(room_tree(tmp_path))) == {MLCORE_APART: "KEPT", ONE_DOOR: "KEPT", ROOMS: "KEPT"}


@pytest.mark.parametrize(
    ("module", "source", "broken"),
    [
        ("mlcore/training.py", "import django.conf\n", {MLCORE_APART}),
        ("mlcore/training.py", "def f():\n    from predictions import models\n", {MLCORE_APART, ROOMS}),
        ("predictions/selectors.py", "from mlcore.model import X\n", {ONE_DOOR}),
        ("annotations/learning.py", "def f():\n    import mlcore.model\n", {ONE_DOOR}),
        ("accounts/views.py", "from annotations import models\n", {ROOMS}),
        ("predictions/services.py", "import modelops\n", {ROOMS}),
        ("videos/services.py", "from annotations import services\n", {ROOMS}),  # siblings, independent
        ("common/jobs.py", "from predictions import tasks\n", {ROOMS}),  # the helpers sit at the bottom
        ("common/api_errors.py", "from infantino_site import settings\n", {ROOMS}),  # the site sits on top
    ],
)
def test_each_contract_fails_on_a_tree_that_breaks_it_and_names_itself(tmp_path, module, source, broken):
    root = room_tree(tmp_path)
    (root / module).write_text(source)

    result = lint_imports(root)

    assert result.returncode == 1
    assert {name for name, verdict in verdicts(result).items() if verdict == "BROKEN"} == broken
    assert len(verdicts(result)) == 3


# ---- no room names another room's task ------------------------------------------------------------------------
TASK_PATH = re.compile(r"^([a-z_]+)\.tasks\.[a-z_]+$")


def task_names_across_rooms(root: Path) -> list[str]:
    """Each string constant in a first-party module that names a task of another top-level package."""
    found = []
    for name, path in first_party_modules(root).items():
        room = name.partition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                named = TASK_PATH.match(node.value)
                if named and named.group(1) != room:
                    found.append(f"{path.relative_to(root)}:{node.lineno} names {node.value}")
    return found


def test_a_string_naming_another_rooms_task_is_found_with_its_line(tmp_path):
    write_tree(
        tmp_path,
        {
            "predictions/services.py": 'JOB = "annotations.tasks.unlearn"\nOWN = "predictions.tasks.delete_expired"\n',
            "annotations/tasks.py": "def unlearn():\n    pass\n",
        },
    )

    assert task_names_across_rooms(tmp_path) == ["predictions/services.py:1 names annotations.tasks.unlearn"]


def test_no_room_of_this_repository_names_another_rooms_task_and_every_task_named_is_registered():
    from common import jobs

    assert task_names_across_rooms(REPO_ROOT) == []
    named = set()
    for path in first_party_modules(REPO_ROOT).values():
        named |= {
            match.group(0) for match in map(TASK_PATH.match, re.findall(r'"([a-z_.]+)"', path.read_text())) if match
        }
    assert named and named <= set(jobs.JOBS), f"queued but never registered: {sorted(named - set(jobs.JOBS))}"


# ---- no app reads a version's raw tags or metrics -------------------------------------------------------------
RAW_FIELDS = {"tags", "metrics"}
# Only the backend and the ML core know what a tag or metric key means; apps read the typed record.
KNOW_THE_KEYS = ("predictions.ml", ML_CORE)
# Objects with metrics of their own, not a version's: a training's progress events and its result.
NOT_VERSIONS = {"event", "trained"}
TEMPLATE_READ = re.compile(r"\.(tags|metrics)\.\w+")


def reads_a_raw_key(node: ast.AST) -> bool:
    """Whether ``node`` reads a key of raw tags or metrics: ``x.tags[k]``, ``x.metrics.get(k)``, or of a mapping
    handed on under that name (``tags.get(k)``)."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
        raw = node.func.value
    elif isinstance(node, ast.Subscript):
        raw = node.value
    else:
        return False
    if isinstance(raw, ast.Name):
        return raw.id in RAW_FIELDS
    if not isinstance(raw, ast.Attribute) or raw.attr not in RAW_FIELDS:
        return False
    return not (isinstance(raw.value, ast.Name) and raw.value.id in NOT_VERSIONS)


def raw_version_reads(root: Path) -> list[str]:
    """Each key read of raw ``tags`` or ``metrics`` in an app module or a template, as ``path:line`` and the code."""
    found: list[tuple[str, int, str | None]] = []
    for name, path in first_party_modules(root).items():
        if any(within(name, owner) for owner in KNOW_THE_KEYS) or ".migrations." in name:
            continue
        source = path.read_text()
        for node in ast.walk(ast.parse(source, filename=str(path))):
            if reads_a_raw_key(node):
                found.append((str(path.relative_to(root)), node.lineno, ast.get_source_segment(source, node)))
    for path in (root / "templates").rglob("*.html"):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            found += [(str(path.relative_to(root)), number, m.group(0)) for m in TEMPLATE_READ.finditer(line)]
    return [f"{path}:{line} {code}" for path, line, code in sorted(found)]


def test_a_raw_tag_or_metric_read_in_an_app_or_a_template_is_found_with_its_line(tmp_path):
    write_tree(
        tmp_path,
        {
            "modelops/selectors.py": """
                kind = info.tags.get("kind", "")
                accuracy = backend().version_info(v).metrics["infant_accuracy"]
                every = info.metrics  # the whole mapping, no key read

                def learned_from(tags):
                    return tags["label"]
            """,
            "annotations/learning/undo.py": "undone = made.tags['kind'] == 'unlearn'\n",
            "modelops/services/retrain.py": "eta = event.metrics.get('overall_eta_seconds')\n",  # a progress event
            "modelops/migrations/0001_initial.py": "kind = info.tags['kind']\n",
            "predictions/ml/fake.py": "extractor = info.tags['extractor_id']\n",  # the backend knows the keys
            "mlcore/registry/reads.py": "extractor = info.tags['extractor_id']\n",
        },
    )
    (tmp_path / "templates" / "modelops").mkdir(parents=True)
    (tmp_path / "templates" / "modelops" / "dashboard.html").write_text(
        "<li class='{{ message.tags }}'>\n<td>{{ v.metrics.infant_accuracy }}</td>\n"
    )

    assert raw_version_reads(tmp_path) == [
        "annotations/learning/undo.py:1 made.tags['kind']",
        'modelops/selectors.py:1 info.tags.get("kind", "")',
        'modelops/selectors.py:2 backend().version_info(v).metrics["infant_accuracy"]',
        'modelops/selectors.py:6 tags["label"]',
        "templates/modelops/dashboard.html:2 .metrics.infant_accuracy",
    ]


def test_no_app_or_template_of_this_repository_reads_a_versions_raw_tags_or_metrics():
    reads = raw_version_reads(REPO_ROOT)
    assert not reads, (
        "raw version tags or metrics read outside predictions.ml (use VersionInfo's fields):\n" + "\n".join(reads)
    )
