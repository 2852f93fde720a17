"""The labeling page shows an annotator what their labels did, live: accuracy then and now, and each label's fate."""

from __future__ import annotations

import pytest

from tests.annotations.live_server import labeling_app
from tests.e2e.test_labeling import sign_in_to_label

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, browser):  # type: ignore[no-untyped-def]
    # Its own server: labeling moves the live version, which the shared app's other tests rely on.
    with labeling_app(tmp_path_factory.mktemp("labeling-effect-e2e-var")) as running:
        for seed in range(3):
            running.upload(seed)
        yield running


def test_after_two_labels_the_page_shows_they_were_learned_against_the_accuracy_when_labeling_began(
    app, page, artifacts_dir
):
    sign_in_to_label(page, app)
    effect = page.locator("[data-testid=effect]")
    assert page.locator("[data-testid=effect-labels]").inner_text() == "0"
    assert "Your first label starts the count" in effect.inner_text()

    for key in ["4", "7"]:  # happy, neutral
        shown = page.locator("#queue-frame").get_attribute("data-image-id")
        page.keyboard.press(key)
        page.wait_for_function("(id) => document.getElementById('queue-frame').dataset.imageId !== id", arg=shown)
    page.wait_for_function("() => document.getElementById('effect-learned').textContent === '2'", timeout=60_000)

    assert page.locator("[data-testid=effect-labels]").inner_text() == "2"
    assert page.locator("[data-testid=effect-held-back]").inner_text() == "0"
    assert page.locator("[data-testid=effect-then]").inner_text() == "50%"  # the tiny live model's recorded score
    assert page.locator("#effect-started-version").inner_text() == app.base_version
    assert page.locator("#effect-live-version").inner_text() != app.base_version
    page.screenshot(path=str(artifacts_dir / "labeling-effect.png"), full_page=True)
