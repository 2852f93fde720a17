from __future__ import annotations

import json
import urllib.request

import pytest

from tests.images import face_like

pytestmark = pytest.mark.e2e


def test_a_person_uploads_a_photo_and_sees_seven_bars_and_the_version(running_app, page, tmp_path, artifacts_dir):
    photo = tmp_path / "baby.jpg"
    face_like(size=160, seed=3).save(photo, "JPEG")

    live = json.loads(urllib.request.urlopen(running_app.url + "/api/models/live/").read())["version"]
    page.goto(running_app.url + "/")
    page.set_input_files("#image-input", str(photo))
    page.click("button[type=submit]")

    page.wait_for_url("**/predictions/*/")
    assert page.locator("[data-testid=bars] .bar").count() == 7
    assert page.locator("[data-testid=model-version]").inner_text() == live
    assert page.locator("[data-testid=label]").inner_text()
    page.screenshot(path=str(artifacts_dir / "result-page.png"), full_page=True)

    page.goto(running_app.url + "/")
    assert page.locator(".history li").count() == 1


def test_a_bad_file_gets_a_readable_error_on_the_page(running_app, page, tmp_path):
    junk = tmp_path / "notes.jpg"
    junk.write_bytes(b"this is not a photo")

    page.goto(running_app.url + "/")
    page.set_input_files("#image-input", str(junk))
    page.click("button[type=submit]")

    assert "upload a JPEG, PNG or WebP photo" in page.locator("[role=alert]").inner_text()


def test_a_person_deletes_their_photo_after_confirming_and_nobody_else_could_open_it(
    running_app, page, browser, tmp_path
):
    photo = tmp_path / "baby.jpg"
    face_like(size=120, seed=8).save(photo, "JPEG")
    page.goto(running_app.url + "/")
    page.set_input_files("#image-input", str(photo))
    page.click("button[type=submit]")
    page.wait_for_url("**/predictions/*/")
    result_url, image_url = page.url, page.locator("#photo").get_attribute("src")

    stranger = browser.new_context()
    try:
        assert stranger.request.get(result_url).status == 404
        assert stranger.request.get(running_app.url + image_url).status == 404
    finally:
        stranger.close()

    page.once("dialog", lambda dialog: dialog.dismiss())  # changing one's mind keeps the photo
    page.click("[data-testid=delete]")
    assert page.url == result_url
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("[data-testid=delete]")
    page.wait_for_url(running_app.url + "/")

    assert "deleted" in page.locator("[role=status]").first.inner_text()
    assert page.request.get(result_url).status == 404
