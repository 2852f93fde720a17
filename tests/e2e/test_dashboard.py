from __future__ import annotations

import pytest

from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.e2e


def test_an_admin_starts_a_tiny_retrain_watches_it_finish_and_sees_the_new_version(running_app, page, artifacts_dir):
    sign_in(page, running_app)
    page.goto(running_app.url + "/dashboard/")
    versions_before = page.locator("#versions tbody tr[data-version]").count()
    page.screenshot(path=str(artifacts_dir / "dashboard-before-retrain.png"), full_page=True)

    page.select_option("select[name=preset]", "tiny")
    page.click("#start-retrain")

    # The page is rendered once; everything after comes over the websocket.
    # Predicates are functions: Playwright re-evaluates a bare expression with eval(), which the page's CSP refuses.
    page.wait_for_function("() => document.getElementById('job-percent').textContent !== '0%'", timeout=60_000)
    page.wait_for_function("() => document.getElementById('job-status').textContent === 'succeeded'", timeout=120_000)
    assert page.locator("#job-percent").inner_text() == "100%"
    assert page.locator("#job-bar").get_attribute("style") == "width: 100%;"
    page.wait_for_function(
        f"() => document.querySelectorAll('#versions tbody tr[data-version]').length > {versions_before}"
    )
    newest = page.locator("#versions tbody tr[data-version]").first
    assert "retrain" in newest.inner_text()
    page.screenshot(path=str(artifacts_dir / "dashboard-after-retrain.png"), full_page=True)

    page.goto(running_app.url + "/dashboard/versions/" + newest.get_attribute("data-version") + "/")
    page.screenshot(path=str(artifacts_dir / "dashboard-version.png"), full_page=True)
