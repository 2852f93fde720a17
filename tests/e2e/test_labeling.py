from __future__ import annotations

import pytest

from tests.annotations.live_server import ANNOTATOR, PASSWORD, labeling_app

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, browser):  # type: ignore[no-untyped-def]
    # Its own server: labeling moves the live version, which the shared app's other tests rely on.
    with labeling_app(tmp_path_factory.mktemp("labeling-e2e-var")) as running:
        for seed in range(5):
            running.upload(seed)
        yield running


def test_an_annotator_labels_three_images_with_the_keyboard_and_sees_the_version_change_live(app, page, artifacts_dir):
    page.goto(app.url + "/label/")
    page.fill("input[name=username]", ANNOTATOR)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/label/")
    page.evaluate("window.__sameDocument = true")
    version = page.locator("[data-testid=live-version]")
    assert version.inner_text() == app.base_version
    page.wait_for_function("() => document.getElementById('queue-guess').textContent !== '…'")

    seen = [version.inner_text()]
    images = []
    for key in ["4", "5", "7"]:  # happy, sad, neutral
        images.append(page.locator("#queue-frame").get_attribute("data-image-id"))
        page.keyboard.press(key)
        page.wait_for_function(
            "(before) => document.querySelector('[data-testid=live-version]').textContent !== before", arg=seen[-1]
        )
        seen.append(version.inner_text())

    assert [int(v) for v in seen] == list(range(int(app.base_version), int(app.base_version) + 4))
    assert len(set(images)) == 3
    assert page.locator("[data-testid=labeled-count]").inner_text() == "3"
    assert page.evaluate("window.__sameDocument") is True  # no reload happened
    assert app.registry().live_version() == seen[-1]
    page.screenshot(path=str(artifacts_dir / "labeling-queue.png"), full_page=True)

    page.keyboard.press("u")  # undo the last label: the live version goes back
    page.wait_for_function(
        "(before) => document.querySelector('[data-testid=live-version]').textContent !== before", arg=seen[-1]
    )
    assert version.inner_text() == seen[-2]
    assert page.locator("#queue-frame").get_attribute("data-image-id") == images[-1]
