"""Every page works under its enforced Content-Security-Policy: Chromium reports no violation and the page's
script does its job (sockets open, bars drawn, Swagger UI rendered)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.e2e.conftest import RunningApp
from tests.images import face_like
from tests.servers import manage

pytestmark = pytest.mark.e2e

ANNOTATOR, PASSWORD = "csp-annotator", "labels-under-a-policy-42"

# Runs before any script of each page, so a violation while the HTML is parsed is reported too.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  const refused = event.blockedURI || "inline";
  window.reportViolation(`Content Security Policy, ${location.pathname}: ${event.violatedDirective} ${refused}`);
});
"""


@dataclass
class Watched:
    """A page in a fresh browser context, with every CSP violation it meets written down."""

    page: Any
    app: RunningApp
    violations: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        if "Content Security Policy" in text:
            self.violations.append(text)

    def visit(self, path: str) -> None:
        response = self.page.goto(self.app.url + path)
        policy = response.headers.get("content-security-policy", "")
        assert "script-src 'self'" in policy and "style-src 'self'" in policy, (path, policy)
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy

    def visit_expecting_socket(self, path: str, socket_path: str) -> None:
        # A socket the policy refused would never open.
        with self.page.expect_websocket(lambda socket: socket.url.endswith(socket_path)):
            self.visit(path)

    def assert_no_violation(self) -> None:
        self.page.wait_for_timeout(300)  # reports reach Python asynchronously
        assert self.violations == []

    def sign_in(self, username: str, password: str) -> None:
        self.visit("/accounts/login/")
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", password)
        self.page.click("main button[type=submit]")
        self.page.wait_for_url(self.app.url + "/")


@pytest.fixture
def watched(browser, running_app: RunningApp) -> Iterator[Watched]:  # type: ignore[no-untyped-def]
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(30_000)
    watched = Watched(page, running_app)
    context.expose_function("reportViolation", watched.note)
    context.add_init_script(REPORT_VIOLATIONS)
    page.on("console", lambda message: watched.note(message.text))
    yield watched
    context.close()


@pytest.fixture(scope="module")
def annotator(running_app: RunningApp) -> str:
    manage(
        running_app.env,
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model; from accounts.services import annotator_grant; "
        f"annotator_grant(user=get_user_model().objects.create_user({ANNOTATOR!r}, password={PASSWORD!r}))",
    )
    return ANNOTATOR


def test_the_policy_is_enforced_and_a_violation_would_be_seen(watched):
    watched.visit("/")
    watched.page.evaluate(
        "document.querySelector('main').insertAdjacentHTML('beforeend', '<p id=x style=\"color: red\">')"
    )
    watched.page.wait_for_function("() => document.getElementById('x') !== null")

    assert watched.page.evaluate("getComputedStyle(document.getElementById('x')).color") != "rgb(255, 0, 0)"
    watched.page.wait_for_timeout(200)  # the report is sent asynchronously
    assert any("style-src" in violation for violation in watched.violations)


def test_uploading_and_reading_the_result_work_under_the_policy(watched, tmp_path):
    photo = tmp_path / "baby.jpg"
    face_like(size=160, seed=5).save(photo, "JPEG")
    page = watched.page

    watched.visit_expecting_socket("/", "/ws/models/")  # live-version.js follows the live model
    page.set_input_files("#image-input", str(photo))
    assert page.locator("#drop-zone .big").inner_text() == "baby.jpg"  # upload.js ran
    page.click("#upload-form button[type=submit]")
    page.wait_for_url("**/predictions/*/")

    widths = [bar.get_attribute("style") for bar in page.locator(".bar-fill").all()]
    assert len(widths) == 7 and all(width and width.startswith("width:") for width in widths)  # page.js drew them
    assert page.evaluate("document.getElementById('photo').naturalWidth") > 0
    if page.locator("[data-testid=face-box]").count():
        assert "left:" in page.locator("[data-testid=face-box]").get_attribute("style")
    page.once("dialog", lambda dialog: dialog.dismiss())  # the confirmation, once an inline onsubmit
    page.click("[data-testid=delete]")
    assert page.locator("[data-testid=label]").is_visible()
    watched.assert_no_violation()


def test_the_labeling_queue_works_under_the_policy(watched, annotator):
    watched.sign_in(annotator, PASSWORD)

    watched.visit_expecting_socket("/label/", "/ws/models/")
    watched.page.wait_for_function(
        "() => document.getElementById('queue-guess').textContent !== '…'"
    )  # /api/queue/ read

    watched.assert_no_violation()


def test_the_dashboard_and_a_version_page_work_under_the_policy(watched):
    watched.sign_in(watched.app.staff_user, watched.app.staff_password)

    watched.visit_expecting_socket("/dashboard/", "/ws/training/")
    assert watched.page.locator("#versions tbody tr[data-version]").count() >= 1
    watched.visit(f"/dashboard/versions/{watched.app.version}/")
    assert watched.page.locator("h1").inner_text().startswith(f"Version {watched.app.version}")

    watched.assert_no_violation()


def test_signing_up_my_data_signing_out_and_in_work_under_the_policy(watched):
    page = watched.page
    watched.visit("/accounts/signup/")
    page.fill("input[name=username]", "csp-parent")
    page.fill("input[name=password1]", "a-parent-under-a-policy-7")
    page.fill("input[name=password2]", "a-parent-under-a-policy-7")
    page.click("main button[type=submit]")
    page.wait_for_url(watched.app.url + "/")

    watched.visit("/accounts/data/")
    page.check("input[name=confirm]")
    with page.expect_navigation():
        page.click("[data-testid=delete-my-data]")
    assert page.locator("[role=status]").count() >= 1
    with page.expect_navigation():
        page.click("form[action='/accounts/logout/'] button")
    watched.sign_in("csp-parent", "a-parent-under-a-policy-7")

    watched.assert_no_violation()


def test_the_api_docs_work_under_the_policy_and_their_writes_carry_the_token(watched):
    page = watched.page
    watched.visit("/api/docs/")

    page.click(".opblock-post .opblock-summary-path[data-path='/api/me/delete-data/']")  # Swagger UI rendered
    page.click(".opblock.is-open .try-out__btn")
    page.click(".opblock.is-open .execute")
    status = page.locator(".opblock.is-open .live-responses-table tbody .response-col_status").first
    assert status.inner_text().strip().startswith("200")  # an anonymous browser write, past the CSRF check

    watched.assert_no_violation()
