"""A research team's whole project in the browser: import a zip, label blind, set a photo aside, settle, export."""

from __future__ import annotations

import csv
import io
import sqlite3
import time
import zipfile
from collections import defaultdict
from pathlib import Path

import pytest

from tests.annotations.live_server import PASSWORD, Account, labeling_app
from tests.images import jpeg_bytes

pytestmark = pytest.mark.e2e

LEAD, ALICE, BOB = "lead", "alice", "bob"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, browser):  # type: ignore[no-untyped-def]
    # Two labels per image: two annotators who disagree leave a conflict for the lead to settle.
    accounts = (Account(LEAD, staff=True, adjudicator=True), Account(ALICE), Account(BOB))
    var_dir = tmp_path_factory.mktemp("project-e2e-var")
    with labeling_app(var_dir, accounts=accounts, INFANTINO_LABELS_PER_IMAGE="2") as running:
        yield running


def sign_in(page, url: str, name: str, next_path: str) -> None:  # type: ignore[no-untyped-def]
    page.context.clear_cookies()
    page.goto(f"{url}{next_path}")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{next_path}")


def current_photo(page) -> str:  # type: ignore[no-untyped-def]
    page.wait_for_function("() => document.getElementById('queue-frame').dataset.imageId")
    return page.locator("#queue-frame").get_attribute("data-image-id")


def press_and_wait(page, key: str, photo: str) -> None:  # type: ignore[no-untyped-def]
    """Press a labeling key and wait until the page has moved on to another photo."""
    page.keyboard.press(key)
    page.wait_for_function(
        "(before) => { const f = document.getElementById('queue-frame');"
        " return f.hidden || f.dataset.imageId !== before; }",
        arg=photo,
    )


def database_rows(var_dir: Path) -> dict[str, dict[str, object]]:
    """What the server's database holds per image: every vote, the decision and the unusable mark."""
    with sqlite3.connect(var_dir / "infantino.sqlite3") as db:
        found: dict[str, dict[str, object]] = defaultdict(lambda: {"votes": {}, "decision": "", "unusable": ""})
        votes = (
            "SELECT a.image_id, u.username, a.label FROM annotations_annotation a"
            " JOIN auth_user u ON u.id = a.annotator_id"
        )
        for image, name, label in db.execute(votes):
            found[image.replace("-", "")]["votes"][name] = label  # type: ignore[index]
        for image, label in db.execute("SELECT image_id, label FROM annotations_adjudication"):
            found[image.replace("-", "")]["decision"] = label
        for image, reason in db.execute("SELECT id, unusable FROM predictions_prediction WHERE unusable != ''"):
            found[image.replace("-", "")]["unusable"] = reason
    return dict(found)


def test_a_team_imports_labels_blind_sets_aside_settles_and_exports_what_the_database_holds(app, page, tmp_path):
    archive = tmp_path / "project.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for seed in range(4):
            zipped.writestr(f"session-1/baby-{seed}.jpg", jpeg_bytes(size=64, seed=40 + seed))
    sign_in(page, app.url, LEAD, "/label/")
    page.set_input_files("#import-files", str(archive))
    assert page.locator("#import-label").input_value() == ""  # unlabeled unless the lead picks a label
    page.click("#import-form button[type=submit]")
    page.wait_for_function("() => document.querySelectorAll('#import-results li[data-outcome=imported]').length === 4")
    page.reload()
    current_photo(page)  # the page's script has started and shown the queue: the box is not clicked mid-start
    page.check("#blind-project")  # the lead hides the model's guess from every annotator
    page.wait_for_function("() => document.getElementById('queue-status').textContent.startsWith('Blind mode on')")

    sign_in(page, app.url, ALICE, "/label/")
    assert not page.locator("#queue-model").is_visible() and page.locator("[data-testid=blind-note]").is_visible()
    first = current_photo(page)
    press_and_wait(page, "4", first)  # happy
    second = current_photo(page)
    press_and_wait(page, "5", second)  # sad
    aside = current_photo(page)
    press_and_wait(page, "f", aside)  # no usable face: it leaves everyone's queue
    assert page.locator("#queue-guess").inner_text() == "…"  # the guess never reached this page

    sign_in(page, app.url, BOB, "/label/")
    seen = set()
    while len(seen) < 3 and not page.locator("#queue-frame").is_hidden():
        photo = current_photo(page)
        assert photo != aside
        seen.add(photo)
        press_and_wait(page, "4" if photo in (first, second) else "7", photo)  # agrees on the first only
    assert {first, second} <= seen

    sign_in(page, app.url, LEAD, "/label/conflicts/")
    conflict = page.locator(f"[data-image-id='{second}']")
    assert sorted(conflict.locator(".votes li").all_text_contents()) == [f"happy by {BOB}", f"sad by {ALICE}"]
    conflict.locator("select[name=label]").select_option("sad")
    conflict.locator("button[type=submit]").click()
    page.wait_for_selector("text=Settled as sad")

    deadline = time.monotonic() + 120  # the decision and the agreed photo are learned in the background
    while (pending := _queued(app.var_dir, (first, second))) != 0:
        assert time.monotonic() < deadline, f"{pending} labels still queued"
        time.sleep(0.3)
    page.goto(app.url + "/dashboard/")
    with page.expect_download() as download:
        page.click("[data-testid=export-csv]")
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))

    held = database_rows(app.var_dir)
    assert {row["id"].replace("-", "") for row in rows} == set(held)
    for row in rows:
        truth = held[row["id"].replace("-", "")]
        votes = {name: row[f"label:{name}"] for name in (ALICE, BOB) if row.get(f"label:{name}")}
        assert votes == truth["votes"]
        assert row["unusable"] == truth["unusable"]
    by_id = {row["id"]: row for row in rows}
    assert (by_id[first]["consensus"], by_id[second]["consensus"], by_id[aside]["consensus"]) == ("happy", "sad", "")
    assert by_id[aside]["unusable"] == "no_face"


def _queued(var_dir: Path, images: tuple[str, ...]) -> int:
    with sqlite3.connect(var_dir / "infantino.sqlite3") as db:
        marks = ",".join("?" * len(images))
        query = f"SELECT COUNT(*) FROM annotations_annotation WHERE status = 'queued' AND image_id IN ({marks})"
        return int(db.execute(query, [image.replace("-", "") for image in images]).fetchone()[0])
