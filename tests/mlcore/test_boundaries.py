"""mlcore is plain Python ML: it must never import Django."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import mlcore
from tests.servers import REPO_ROOT

MLCORE = Path(mlcore.__file__).parent


def test_no_mlcore_module_imports_django_in_its_source():
    offenders = []
    for path in MLCORE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else ([node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            )
            offenders += [
                f"{path.name}: {n}"
                for n in names
                if n.split(".")[0] in {"django", "rest_framework", "channels", "predictions", "annotations"}
            ]
    assert offenders == []


def test_importing_every_mlcore_module_loads_no_django():
    modules = [f"mlcore.{m.name}" for m in pkgutil.iter_modules([str(MLCORE)])]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m == 'django' or m.startswith('django.')))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
