"""The units ``make test``'s two xdist workers take whole (tests/conftest.py), and what lets the rest run side by
side: each module that uses the one Redis server on 6379 has a database of its own, so one module's ``FLUSHDB``
or Celery worker never meets another's."""

from __future__ import annotations

import re
from collections import OrderedDict, defaultdict
from pathlib import Path

from tests.conftest import REPO_ROOT, UnitScheduling, xdist_unit

REDIS_DATABASE = re.compile(r"127\.0\.0\.1:6379/(\d+)")


def redis_databases(root: Path) -> dict[str, set[str]]:
    """Database number → the test modules under ``root`` that name it."""
    users: dict[str, set[str]] = defaultdict(set)
    for module in root.rglob("*.py"):
        for number in REDIS_DATABASE.findall(module.read_text(errors="replace")):
            users[number].add(str(module.relative_to(root)))
    return users


def test_no_two_test_modules_share_a_database_of_the_redis_server():
    found = redis_databases(REPO_ROOT / "tests")
    this = str(Path(__file__).relative_to(REPO_ROOT / "tests"))
    shared = {number: sorted(modules - {this}) for number, modules in found.items() if modules - {this}}
    assert {number: modules for number, modules in shared.items() if len(modules) > 1} == {}
    assert all(0 <= int(number) <= 15 for number in shared)  # Redis's default 16 databases


def test_the_check_finds_two_modules_on_one_database(tmp_path: Path):
    (tmp_path / "test_a.py").write_text('REDIS = "redis://127.0.0.1:6379/12"\n')
    (tmp_path / "test_b.py").write_text('url = "redis://127.0.0.1:6379/12"\nother = "redis://127.0.0.1:6379/3"\n')
    assert redis_databases(tmp_path) == {"12": {"test_a.py", "test_b.py"}, "3": {"test_b.py"}}


def test_a_modules_tests_are_one_unit_and_the_browser_apps_tests_are_one():
    assert xdist_unit("tests/site/test_variables.py::test_a") == "tests/site/test_variables.py"
    assert xdist_unit("tests/site/test_variables.py::test_b") == xdist_unit("tests/site/test_variables.py::test_a")
    assert xdist_unit("tests/e2e/test_predict_page.py::test_x") == xdist_unit("tests/e2e/test_video.py::test_y")
    assert xdist_unit("tests/faults/test_worker_killed.py::t") != xdist_unit("tests/faults/test_readyz.py::t")


def test_the_scheduler_splits_by_those_units():
    scheduler = object.__new__(UnitScheduling)
    assert scheduler._split_scope("tests/e2e/test_video.py::test_a") == "running_app"
    assert scheduler._split_scope("tests/site/test_variables.py::test_a") == "tests/site/test_variables.py"


def test_units_that_start_processes_go_first_then_the_largest():
    units = {
        "tests/site/test_variables.py": {"tests/site/test_variables.py::test_a": False},
        "tests/site/test_settings.py": {
            "tests/site/test_settings.py::test_a": False,
            "tests/site/test_settings.py::b": False,
        },
        "tests/faults/test_worker_killed.py": {"tests/faults/test_worker_killed.py::test_a": False},
        "running_app": {"tests/e2e/test_video.py::test_a": False},
    }
    order = sorted(units, key=lambda unit: UnitScheduling.priority(units[unit]))
    assert order == [
        "tests/faults/test_worker_killed.py",  # a stack of servers: first, though it holds one test here
        "running_app",
        "tests/site/test_settings.py",
        "tests/site/test_variables.py",
    ]


def test_the_preferred_unit_is_assigned_and_each_worker_keeps_its_own_collection_order():
    class Node:
        def __init__(self) -> None:
            self.sent: list[int] = []

        def send_runtest_some(self, indexes: list[int]) -> None:
            self.sent.extend(indexes)

    collection = ["tests/site/test_variables.py::test_a", "tests/faults/test_worker_killed.py::test_a"]
    node = Node()
    scheduler = object.__new__(UnitScheduling)
    scheduler.workqueue = OrderedDict((xdist_unit(n), {n: False}) for n in collection)
    scheduler.assigned_work, scheduler.registered_collections = {}, {node: collection}
    scheduler._assign_work_unit(node)
    assert node.sent == [1]  # the stack first, by its index in the worker's own collection
    assert list(scheduler.workqueue) == ["tests/site/test_variables.py"]
