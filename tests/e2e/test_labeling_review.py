"""An adjudicator labels blind, settles a conflict, and the labeling pages pass an accessibility check."""

from __future__ import annotations

import time

import pytest
import requests
from axe_playwright_python.sync_playwright import Axe

from tests.annotations.live_server import PASSWORD, Account, labeling_app

pytestmark = pytest.mark.e2e

JUDGE = "judy"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, browser):  # type: ignore[no-untyped-def]
    # Two labels per image, so that two annotators who disagree leave a conflict nobody has learned.
    accounts = (Account("alice"), Account("bob"), Account(JUDGE, staff=True, adjudicator=True))
    var_dir = tmp_path_factory.mktemp("review-e2e-var")
    with labeling_app(var_dir, accounts=accounts, INFANTINO_LABELS_PER_IMAGE="2") as running:
        photos = [running.upload(seed) for seed in range(3)]
        alice, bob = running.session("alice"), running.session("bob")
        for session, label in ((alice, "happy"), (bob, "sad")):
            response = session.post(
                f"{running.url}/api/annotations/", json={"image": photos[0], "label": label}, timeout=30
            )
            response.raise_for_status()
        yield running, photos[0]


def sign_in(page, url: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(url + "/label/")
    page.fill("input[name=username]", JUDGE)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/label/")


def serious(page) -> list[str]:  # type: ignore[no-untyped-def]
    """axe-core's serious and critical violations on the page, each with the elements it found."""
    found = Axe().run(page).response["violations"]
    return [f"{v['id']}: {[n['target'] for n in v['nodes']]}" for v in found if v["impact"] in {"serious", "critical"}]


def test_an_adjudicator_labels_blind_then_settles_the_conflict_and_it_is_learned(app, page):
    running, conflict = app
    sign_in(page, running.url)
    page.wait_for_function("() => document.getElementById('queue-frame').dataset.imageId")
    assert page.locator("#queue-model").is_visible()
    assert serious(page) == []

    page.check("#blind-mine")
    page.wait_for_function("() => document.getElementById('queue-status').textContent.startsWith('Blind mode on')")
    assert not page.locator("#queue-model").is_visible()
    assert page.locator("[data-testid=blind-note]").is_visible()
    judge = requests.Session()
    judge.auth = (JUDGE, PASSWORD)
    assert all(item["guess"] is None for item in judge.get(f"{running.url}/api/queue/", timeout=30).json())

    page.click("text=Settle conflicts")
    page.wait_for_url("**/label/conflicts/")
    votes = page.locator(f"[data-image-id='{conflict}'] .votes li").all_text_contents()
    assert sorted(votes) == ["happy by alice", "sad by bob"]
    assert "model's guess" not in page.locator(f"[data-image-id='{conflict}']").inner_text()  # blind here too
    assert serious(page) == []
    page.select_option(f"[data-image-id='{conflict}'] select[name=label]", "sad")
    page.fill(f"[data-image-id='{conflict}'] input[name=note]", "the mouth turns down")
    page.click(f"[data-image-id='{conflict}'] button[type=submit]")
    page.wait_for_selector("text=Settled as sad")
    assert page.locator("[data-testid=no-conflicts]").is_visible()

    deadline = time.monotonic() + 120
    while (statuses := _statuses(judge, running.url)) != {"alice": "outvoted", "bob": "learned"}:
        assert time.monotonic() < deadline, statuses
        time.sleep(0.3)
    assert running.registry().version_info(running.registry().live_version()).tags["label"] == "sad"

    page.goto(running.url + "/label/annotators/")
    names = page.locator("[data-testid=annotators] th[scope=row]").all_inner_texts()
    assert names == ["alice", "annie", "bob", JUDGE]  # annie: the server's own annotator, who labeled nothing
    assert (
        "100 %" in page.locator("[data-testid=annotators] tr", has_text="bob").inner_text()
    )  # agreed with the decision
    assert "0 %" in page.locator("[data-testid=annotators] tr", has_text="alice").inner_text()
    assert serious(page) == []


def _statuses(session: requests.Session, url: str) -> dict[str, str]:
    found = {}
    for pk in range(1, 3):  # alice's and bob's labels, the first two of this server
        body = session.get(f"{url}/api/annotations/{pk}/", timeout=30).json()
        found[body["annotator"]] = body["status"]
    return found
