from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pytest

from tests.annotations.live_server import labeling_app
from tests.images import face_like, jpeg_bytes
from tests.servers import app_env, create_user

pytestmark = pytest.mark.e2e

STAFF, STAFF_PASSWORD = "lead", "lead-researcher-password-7"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, browser):  # type: ignore[no-untyped-def]
    # Its own server: imported labels move the live version, which the shared app's other tests rely on.
    var_dir = tmp_path_factory.mktemp("import-e2e-var")
    with labeling_app(var_dir) as running:
        create_user(app_env(var_dir), STAFF, STAFF_PASSWORD, staff=True)
        yield running


def sign_in(page, url: str, next_path: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{url}{next_path}")
    page.fill("input[name=username]", STAFF)
    page.fill("input[name=password]", STAFF_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{next_path}")


def test_staff_import_a_zip_labeled_by_folders_and_download_rows_that_name_each_photo(app, page, tmp_path: Path):
    archive = tmp_path / "project.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("project/happy/a.jpg", jpeg_bytes(seed=11))
        zipped.writestr("project/sad/b.jpg", jpeg_bytes(seed=12))
        zipped.writestr("project/pets/c.jpg", jpeg_bytes(seed=13))

    sign_in(page, app.url, "/label/")
    page.set_input_files("#import-files", str(archive))
    page.select_option("#import-label", label="from the .zip's folders (one folder per label)")
    page.click("#import-form button[type=submit]")
    page.wait_for_function("() => document.querySelectorAll('#import-results li').length === 3")

    imported = page.locator("#import-results li[data-outcome=imported]")
    assert imported.count() == 2
    assert "labeled happy" in imported.nth(0).inner_text()
    assert "'pets' is not a label" in page.locator("#import-results li[data-outcome=refused]").inner_text()
    given = imported.locator("a").evaluate_all("links => links.map(a => [a.href, a.textContent])")
    labels_on_page = {href.rstrip("/").split("/")[-1]: text.removeprefix("labeled ") for href, text in given}
    assert sorted(labels_on_page.values()) == ["happy", "sad"]

    page.goto(app.url + "/dashboard/")
    with page.expect_download() as download:
        page.click("[data-testid=export-csv]")
    assert download.value.suggested_filename.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert {row["id"]: row[f"label:{STAFF}"] for row in rows} == labels_on_page
    assert all(row["consensus"] == row[f"label:{STAFF}"] for row in rows)


def test_a_parent_uploads_two_photos_at_once_and_opens_each_result(app, page, tmp_path: Path):
    photos = []
    for seed in (21, 22):
        photos.append(tmp_path / f"baby-{seed}.jpg")
        face_like(size=120, seed=seed).save(photos[-1], "JPEG")

    page.goto(app.url + "/")
    page.set_input_files("#image-input", [str(p) for p in photos])
    page.click("#upload-form button[type=submit]")

    links = page.locator("[data-testid=batch-results] a")
    assert links.count() == 2
    links.nth(1).click()
    page.wait_for_url("**/predictions/*/")
    assert page.locator("[data-testid=bars] .bar").count() == 7
