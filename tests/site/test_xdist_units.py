"""The units ``make test``'s two xdist workers take whole (tests/conftest.py): two modules that share the one
Redis server never run at once, nor two tests of one module with module-scoped servers."""

from __future__ import annotations

from tests.conftest import UnitScheduling, xdist_unit


def test_every_module_that_uses_the_redis_server_is_one_unit():
    killed = xdist_unit("tests/faults/test_worker_killed.py::test_a_pool_process_killed_mid_update")
    mlflow_down = xdist_unit("tests/faults/test_mlflow_down_labels.py::test_x")
    assert killed == mlflow_down == "redis"


def test_the_browser_apps_tests_are_one_unit_and_other_modules_their_own():
    assert xdist_unit("tests/e2e/test_predict_page.py::test_x") == xdist_unit("tests/e2e/test_video.py::test_y")
    assert xdist_unit("tests/site/test_variables.py::test_a") == "tests/site/test_variables.py"
    assert xdist_unit("tests/site/test_variables.py::test_b") == xdist_unit("tests/site/test_variables.py::test_a")


def test_the_scheduler_splits_by_those_units():
    scheduler = object.__new__(UnitScheduling)
    assert scheduler._split_scope("tests/faults/test_worker_killed.py::test_a") == "redis"
    assert scheduler._split_scope("tests/site/test_variables.py::test_a") == "tests/site/test_variables.py"
