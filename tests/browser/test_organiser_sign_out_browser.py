"""An organiser signs out in a real browser against `make run`'s system: the session ends on the server, so
the cookie copied before signing out, put back into the browser, opens nothing."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.console.session import SESSION_COOKIE
from chalicelib.local.system_process import LocalSystem
from tests.browser.test_accessibility import _violations, axe_source  # noqa: F401
from tests.browser.test_organiser_console_browser import NEW_PASSWORD, _code, _create_account, page  # noqa: F401

pytestmark = pytest.mark.browser


def test_organiser_signs_out_and_a_copy_of_the_cookie_no_longer_opens_the_console(
    page: Any, site: str, local_system: LocalSystem, axe_source: str  # noqa: F811
) -> None:
    email, one_time = _create_account(local_system, "organiser")
    page.goto(f"{site}/organiser/sign-in")
    page.locator("#email").fill(email)
    page.locator("#password").fill(one_time)
    page.locator("button[type=submit]").click()
    page.locator("#new_password").fill(NEW_PASSWORD)
    page.locator("button[type=submit]").click()
    page.locator("#code").wait_for()
    page.locator("#code").fill(_code(page.locator("dd code").inner_text()))
    page.locator("button[type=submit]").click()
    page.wait_for_url("**/organiser")
    copied = [cookie for cookie in page.context.cookies() if cookie["name"] == SESSION_COOKIE]
    assert len(copied) == 1
    elsewhere = page.context.browser.new_context(bypass_csp=True)  # another browser, given the copied cookie
    elsewhere.add_cookies(copied)
    other = elsewhere.new_page()
    other.goto(f"{site}/organiser")
    assert other.url == f"{site}/organiser", "before signing out, the copy opens the console"

    page.get_by_role("button", name="Sign out").click()

    page.wait_for_url("**/organiser/sign-in?signed_out=1")
    assert "You are signed out" in page.locator("[role=status]").inner_text()
    assert _violations(page, axe_source) == []
    assert not [cookie for cookie in page.context.cookies() if cookie["name"] == SESSION_COOKIE]
    page.context.add_cookies(copied)  # what someone who copied the cookie would do
    page.goto(f"{site}/organiser")
    page.wait_for_url("**/organiser/sign-in")
    assert page.locator("#email").is_visible()
    page.goto(f"{site}/organiser/audit")
    page.wait_for_url("**/organiser/sign-in")
    other.goto(f"{site}/organiser")
    assert other.url == f"{site}/organiser/sign-in", "after signing out, the copy opens nothing"
    elsewhere.close()
