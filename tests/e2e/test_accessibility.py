"""WCAG 2.1 AA on the pages people use: axe-core finds nothing serious, the keyboard reaches everything."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import sign_in
from tests.images import face_like

pytestmark = pytest.mark.e2e

BLOCKING = ("serious", "critical")


def blocking_violations(page) -> list[str]:  # type: ignore[no-untyped-def]
    """axe-core's serious and critical findings on the page as it stands, one readable line each."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"resultTypes": ["violations"]})
    return [
        f"{v['impact']} {v['id']}: {v['help']} at {[node['target'] for node in v['nodes']][:5]}"
        for v in results.response["violations"]
        if v["impact"] in BLOCKING
    ]


def predict(page, app, tmp_path, *, consent: bool = False) -> None:  # type: ignore[no-untyped-def]
    photo = tmp_path / "baby.jpg"
    face_like(size=160, seed=11).save(photo, "JPEG")
    page.goto(app.url + "/")
    if consent:
        page.check("[data-testid=consent]")
    page.set_input_files("#image-input", str(photo))
    page.click("button[type=submit]")
    page.wait_for_url("**/predictions/*/")


def test_the_upload_page_has_no_serious_or_critical_violations(running_app, page):
    page.goto(running_app.url + "/")

    assert blocking_violations(page) == []


def test_the_result_page_with_its_heat_map_has_no_serious_or_critical_violations(running_app, page, tmp_path):
    predict(page, running_app, tmp_path)
    page.click("[data-testid=why]")
    heat_map = page.locator("[data-testid=saliency-image]")
    heat_map.wait_for(state="visible")
    page.wait_for_function("() => document.querySelector('[data-testid=saliency-image]').naturalWidth > 0")

    assert "towards" in heat_map.get_attribute("alt")  # names the class it explains
    assert blocking_violations(page) == []


def test_the_labeling_page_has_no_serious_or_critical_violations(running_app, page, tmp_path):
    predict(page, running_app, tmp_path, consent=True)
    sign_in(page, running_app)
    page.goto(running_app.url + "/label/")
    page.wait_for_function("() => document.getElementById('queue-frame')?.dataset.imageId")

    assert blocking_violations(page) == []


def test_the_dashboard_has_no_serious_or_critical_violations(running_app, page):
    sign_in(page, running_app)
    page.goto(running_app.url + "/dashboard/")

    assert blocking_violations(page) == []


def test_the_version_table_fits_its_card_at_1280_pixels(running_app, page):
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, running_app)
    page.goto(running_app.url + "/dashboard/")

    box = page.evaluate(
        """() => {
          const wrap = document.querySelector('.table-wrap');
          const card = wrap.closest('.card').getBoundingClientRect();
          const table = document.getElementById('versions').getBoundingClientRect();
          return {card: card.right, table: table.right, overflow: wrap.scrollWidth - wrap.clientWidth};
        }"""
    )
    assert box["table"] <= box["card"]
    assert box["overflow"] <= 0  # every column visible, none behind a scroll bar


def test_the_first_tab_stop_skips_to_the_main_content_with_a_visible_focus(running_app, page):
    page.goto(running_app.url + "/")

    page.keyboard.press("Tab")
    skip = page.locator(":focus")
    assert skip.inner_text() == "Skip to the main content"
    assert skip.evaluate("el => getComputedStyle(el).top") == "0px"  # on screen while focused
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"

    page.keyboard.press("Tab")  # the first control inside the main content
    outline = page.locator(":focus").evaluate(
        "el => getComputedStyle(el).outlineStyle + ' ' + getComputedStyle(el).outlineWidth"
    )
    assert outline == "solid 3px"
