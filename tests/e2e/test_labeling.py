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


def sign_in_to_label(page, app) -> None:  # type: ignore[no-untyped-def]
    page.goto(app.url + "/label/")
    page.fill("input[name=username]", ANNOTATOR)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/label/")
    page.wait_for_function("() => document.getElementById('queue-frame').dataset.imageId")


def shown(page) -> str:  # type: ignore[no-untyped-def]
    return page.locator("#queue-frame").get_attribute("data-image-id")


def test_progress_moves_a_skip_survives_a_reload_and_the_f_key_marks_no_usable_face(app, page):
    sign_in_to_label(page, app)
    bar = page.locator("[role=progressbar]")
    total, done = int(bar.get_attribute("aria-valuemax")), int(bar.get_attribute("aria-valuenow"))
    mine = int(page.locator("[data-testid=my-count]").inner_text())

    skipped = shown(page)
    page.keyboard.press("s")
    page.wait_for_function("(id) => document.getElementById('queue-frame').dataset.imageId !== id", arg=skipped)
    assert page.locator("[data-testid=skipped-count]").inner_text() == "1"
    page.reload()
    page.wait_for_function("() => document.getElementById('queue-frame').dataset.imageId")
    assert shown(page) != skipped  # kept on the server, not in the page
    assert page.locator("[data-testid=skipped-count]").inner_text() == "1"

    marked = shown(page)
    page.keyboard.press("f")
    page.wait_for_function("() => document.getElementById('progress-unusable').textContent === '1'")
    assert int(bar.get_attribute("aria-valuemax")) == total - 1
    queued = [item["id"] for item in app.annotator().get(f"{app.url}/api/queue/?n=50", timeout=30).json()]
    assert marked not in queued

    page.keyboard.press("4")  # happy: one label decides an image here, so the project's progress moves
    page.wait_for_function(
        "(before) => Number(document.querySelector('[role=progressbar]').getAttribute('aria-valuenow')) > before",
        arg=done,
    )
    assert int(page.locator("[data-testid=my-count]").inner_text()) == mine + 1
    assert bar.get_attribute("aria-valuetext") == f"{done + 1} of {total - 1} photos labeled"

    def in_queue() -> list[str]:
        return [item["id"] for item in app.annotator().get(f"{app.url}/api/queue/?n=50", timeout=30).json()]

    assert skipped not in in_queue()
    page.click("#skips-clear")
    page.wait_for_function("() => document.querySelector('[data-testid=skipped-count]').textContent === '0'")
    # Back in the queue; where it ranks depends on the live model, which the label above has just changed.
    assert skipped in in_queue()


def test_why_shows_the_heat_map_of_the_photo_being_labeled_and_drops_it_for_the_next(app, page):
    sign_in_to_label(page, app)
    photo = shown(page)
    heat_map = page.locator("[data-testid=queue-saliency-image]")

    page.click("[data-testid=queue-why]")
    page.wait_for_function(  # computed on demand, on a server still learning the labels of the tests before
        "() => document.querySelector('[data-testid=queue-saliency-image]').naturalWidth > 0", timeout=120_000
    )
    assert f"/predictions/{photo}/saliency.png" in heat_map.get_attribute("src")
    assert "Heat map over the face" in heat_map.get_attribute("alt")

    page.keyboard.press("s")  # the next photo, or none: the tests before may have labeled all the others
    page.wait_for_function(
        "(id) => { const f = document.getElementById('queue-frame'); return f.hidden || f.dataset.imageId !== id; }",
        arg=photo,
    )
    assert heat_map.is_hidden() and page.locator("#queue-saliency").is_hidden()
