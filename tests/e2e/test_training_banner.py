"""A visitor sees the better model train and go live, on the page they have open, without reloading it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.conftest import STAFF_PASSWORD, RunningApp, serving_with_staff, sign_in
from tests.e2e.test_accessibility import blocking_violations
from tests.mlcore.tiny_data import fer_csv, image_folder
from tests.servers import app_env, register_tiny_model

pytestmark = pytest.mark.e2e

WATCH_BANNER = """() => {
  const banner = document.querySelector('[data-training-banner]');
  window.stillThisPage = true;
  window.percentsSeen = [];
  new MutationObserver(() => {
    const percent = banner.querySelector('[data-training-percent]');
    if (percent) window.percentsSeen.push(percent.textContent);
  }).observe(banner, { childList: true, subtree: true, characterData: true });
}"""


@pytest.fixture(scope="module")
def training_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    var_dir = tmp_path_factory.mktemp("banner-var")
    data = var_dir / "data"  # tiny training data: the retrain takes seconds
    image_folder(data / "infant", per_label=4)
    (data / "fer2013").mkdir()
    fer_csv(data / "fer2013" / "fer2013.csv", per_label=6)
    env = app_env(
        var_dir, INFANTINO_WARM_START="true", INFANTINO_DATA_DIR=str(data), DJANGO_SUPERUSER_PASSWORD=STAFF_PASSWORD
    )
    # It scored nothing, so the retrain's guard lets any new version go live.
    version = register_tiny_model(f"sqlite:///{var_dir / 'mlflow.db'}", (var_dir / "mlartifacts").as_uri(), scored=0.0)
    with serving_with_staff(env, var_dir) as url:
        yield RunningApp(url=url, var_dir=var_dir, env=env, version=version)


def test_a_visitor_watches_the_better_model_train_and_go_live_without_reloading(training_app, browser, artifacts_dir):
    visitor = browser.new_context().new_page()
    visitor.set_default_timeout(30_000)
    visitor.goto(training_app.url + "/")
    live = visitor.locator("[data-testid=live-version]")
    banner = visitor.locator("[data-training-banner]")
    assert live.inner_text() == training_app.version
    assert banner.inner_text() == ""  # nothing trains yet
    visitor.evaluate(WATCH_BANNER)

    staff = browser.new_context().new_page()
    sign_in(staff, training_app)
    staff.goto(training_app.url + "/dashboard/")
    staff.select_option("select[name=preset]", "tiny")
    staff.click("#start-retrain")

    # Predicates are functions: a bare expression is eval()ed, which the page's CSP refuses.
    visitor.wait_for_function(
        "() => document.querySelector('[data-training-banner]').textContent.startsWith('A better model is training')",
        timeout=60_000,
    )
    visitor.screenshot(path=str(artifacts_dir / "training-banner.png"), full_page=True)
    visitor.wait_for_function(
        "(before) => document.querySelector('[data-testid=live-version]').textContent !== before",
        arg=training_app.version,
        timeout=180_000,
    )

    newer = live.inner_text()
    assert banner.inner_text() == f"A better model is now live (version {newer})"
    assert visitor.evaluate("() => window.stillThisPage") is True  # no reload
    assert len(set(visitor.evaluate("() => window.percentsSeen"))) >= 2  # the percent moved
    assert visitor.locator("[role=status][data-training-banner]").count() == 1
    visitor.screenshot(path=str(artifacts_dir / "training-banner-live.png"), full_page=True)
    assert blocking_violations(visitor) == []
