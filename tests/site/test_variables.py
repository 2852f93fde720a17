"""Every environment variable is defined once (infantino_site.variables): settings, the docs and the example agree."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from infantino_site import variables
from infantino_site.env import env_file_read

REPO_ROOT = Path(__file__).resolve().parents[2]
NOT_APP_CODE = {"tests", "bench", ".venv", "var", "node_modules"}
READERS = {"env_str", "env_int", "env_bool", "env_float", "env_list", "env_rate", "env_secret", "value"}
PROCESS_ONLY = {"DJANGO_SETTINGS_MODULE"}  # set by manage.py, asgi and celery for Django itself


def environment_reads(root: Path) -> list[tuple[str, object, str]]:
    """Each variable the app's code reads by a literal name: (name, the literal default or ..., where)."""
    found = []
    for path in sorted(root.glob("*/**/*.py")):
        if path.relative_to(root).parts[0] in NOT_APP_CODE or path.name == "variables.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            name, default = _read(node)
            if name is not None:
                found.append((name, default, f"{path.relative_to(root)}:{node.lineno}"))
    return found


def _read(node: ast.AST) -> tuple[str | None, object]:
    if isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
        key = node.slice
        return (key.value, ...) if isinstance(key, ast.Constant) and isinstance(key.value, str) else (None, None)
    if not isinstance(node, ast.Call) or not node.args or not isinstance(node.args[0], ast.Constant):
        return None, None
    function = ast.unparse(node.func)
    named = node.args[0].value
    if function in {"os.environ.get", "os.getenv"}:
        return named, ...
    if function.rpartition(".")[2] in READERS and isinstance(named, str) and named.isupper():
        default = node.args[1] if len(node.args) > 1 else None
        return named, ast.literal_eval(default) if isinstance(default, ast.Constant) else ...
    return None, None


def test_the_example_file_and_the_deploy_tables_say_what_the_definitions_say():
    assert variables.drifted() == [], "run: python -m infantino_site.variables --write"


def test_every_variable_the_code_reads_is_defined_once_with_the_default_the_code_gives(tmp_path):
    reads = environment_reads(REPO_ROOT)

    assert {name for name, _, _ in reads} >= {"INFANTINO_MTCNN_DIR", "DATABASE_POOL_SIZE", "INFANTINO_VAR_DIR"}
    known = variables.VARIABLES.keys() | PROCESS_ONLY
    undefined = [f"{name} ({where})" for name, _, where in reads if name not in known]
    assert not undefined, "define these in infantino_site/variables.py:\n" + "\n".join(undefined)
    disagreeing = [
        f"{name} ({where}): {default!r} in the code, {variables.VARIABLES[name].default!r} defined"
        for name, default, where in reads
        # A definition without a default is one settings works out (``shown``); the code then gives it.
        if default not in (..., None) and variables.VARIABLES[name].default not in (None, default)
    ]
    assert not disagreeing, "\n".join(disagreeing)


def test_the_scan_finds_a_variable_read_behind_the_definitions_back(tmp_path):
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "settings.py").write_text(
        'import os\nfrom x import env_int\nA = env_int("INFANTINO_NEW_THING", 3)\nB = os.environ.get("OTHER")\n'
    )

    assert environment_reads(tmp_path) == [
        ("INFANTINO_NEW_THING", 3, "app/settings.py:3"),
        ("OTHER", ..., "app/settings.py:4"),
    ]


def test_each_file_drifting_is_named(tmp_path, monkeypatch):
    example, doc = tmp_path / ".env.example", tmp_path / "deploy.md"
    example.write_text(variables.env_example().replace("INFANTINO_RETRAIN_EVERY=100", ""))
    doc.write_text(f"# Deploying\n\n{variables.deploy_tables()}\n\nmore text\n")
    monkeypatch.setattr(variables, "ENV_EXAMPLE", example)
    monkeypatch.setattr(variables, "DEPLOY_DOC", doc)
    assert variables.drifted() == [example]

    row = "| `INFANTINO_RETRAIN_EVERY` | `100` |"
    doc.write_text(doc.read_text().replace(row, row.replace("100", "5")))
    assert variables.drifted() == [example, doc]

    assert variables.main(["--write"]) == 0
    assert variables.drifted() == []
    assert doc.read_text().startswith("# Deploying\n\n") and doc.read_text().endswith("\n\nmore text\n")


def test_the_example_file_sets_every_variable_or_shows_it_commented_out():
    text = (REPO_ROOT / ".env.example").read_text()
    example = env_file_read(REPO_ROOT / ".env.example")

    for variable in variables.VARIABLES.values():
        if variable.commented:
            assert f"# {variable.name}=" in text and variable.name not in example
        else:
            assert variable.name in example, variable.name
    assert example["INFANTINO_RETRAIN_EVERY"] == "100" and example["INFANTINO_JOB_RUNNER"] == ""


def test_a_plain_variable_is_the_setting_of_its_name_parsed_and_checked(monkeypatch):
    monkeypatch.setenv("INFANTINO_JOB_MAX_RETRIES", "3")
    monkeypatch.setenv("INFANTINO_FORGETTING_GUARD", "off")
    monkeypatch.delenv("INFANTINO_CONSOLIDATE_EVERY", raising=False)

    plain = variables.plain_settings()

    assert plain["INFANTINO_JOB_MAX_RETRIES"] == 3 and plain["INFANTINO_FORGETTING_GUARD"] is False
    assert plain["INFANTINO_CONSOLIDATE_EVERY"] == 25
    monkeypatch.setenv("INFANTINO_LABELS_PER_IMAGE", "0")
    with pytest.raises(ImproperlyConfigured, match="INFANTINO_LABELS_PER_IMAGE must be 1 or more"):
        variables.plain_settings()


def test_a_default_settings_works_out_stands_in_for_the_defined_one(monkeypatch):
    monkeypatch.delenv("INFANTINO_JOB_RUNNER", raising=False)
    assert variables.value("INFANTINO_JOB_RUNNER", "celery") == "celery"
    monkeypatch.setenv("INFANTINO_JOB_RUNNER", "inline")
    assert variables.value("INFANTINO_JOB_RUNNER", "celery") == "inline"


def test_every_plain_variable_is_a_setting_of_this_process():
    missing = [name for name, v in variables.VARIABLES.items() if v.setting and not hasattr(settings, name)]
    assert not missing


def test_a_variable_is_one_line_and_then_in_settings_the_docs_and_the_example(monkeypatch):
    added = variables._int("INFANTINO_VIDEO_MAX_SECONDS", 60, "the longest clip analysed, seconds")
    section = variables.SECTIONS[0]
    monkeypatch.setattr(
        variables, "SECTIONS", (variables.Section(section.title, section.note, (*section.variables, added)),)
    )
    monkeypatch.setitem(variables.VARIABLES, added.name, added)
    monkeypatch.setenv("INFANTINO_VIDEO_MAX_SECONDS", "90")

    assert variables.plain_settings()["INFANTINO_VIDEO_MAX_SECONDS"] == 90
    assert "| `INFANTINO_VIDEO_MAX_SECONDS` | `60` | the longest clip analysed, seconds |" in variables.deploy_tables()
    assert "INFANTINO_VIDEO_MAX_SECONDS=60 " in variables.env_example()
