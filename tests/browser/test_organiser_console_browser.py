"""An organiser in a real browser against `make run`'s system: signs in (one-time password, own password,
authenticator app), sees the dashboard's charts, pauses and resumes collection, deletes a citizen's statement
by the identifier on the receipt and sees the count drop. axe-core on every console page; keyboard only."""

from __future__ import annotations

import itertools
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest

from chalicelib.config import PROJECT_ROOT
from chalicelib.local.system_process import LocalSystem
from tests.browser.conftest import screenshot
from tests.browser.test_accessibility import _focused, _tab_to, _violations, axe_source  # noqa: F401
from tests.unit.specimens import pesel

pytestmark = pytest.mark.browser

_numbers = itertools.count()
NEW_PASSWORD = "Organiser-Day-One-2026!"  # a test account's


def _create_account(local_system: LocalSystem, role: str) -> tuple[str, str]:
    """The README's command, against the local system's moto."""
    email = f"{role}{next(_numbers)}@example.org"
    done = subprocess.run(  # noqa: S603 - our own module with fixed arguments
        [sys.executable, "-m", "chalicelib.organiser_cli", "--local", "--endpoint", local_system.moto_url,
         "create-user", "--role", role, email],
        cwd=PROJECT_ROOT, capture_output=True, text=True, check=True, timeout=60)
    password = re.search(r"one-time password \(shown only now; valid for 3 days\): (\S+)", done.stdout)
    assert password, done.stdout
    return email, password.group(1)


def _code(secret: str) -> str:
    from tests.integration.organiser_console import authenticator_code

    return authenticator_code(secret)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    yield opened
    context.close()


def _eventually(check: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "not within the time the local system should take"
        time.sleep(0.5)


def _total(page: Any, site: str) -> int:
    page.goto(f"{site}/organiser")
    return int(page.locator("#total-signatories").inner_text().replace(",", ""))  # grouped: 1,234


def _settled_total(page: Any, site: str, seconds: float = 120.0) -> int:
    """The total once the statements other tests signed have all been counted: unchanged over 10 s."""
    deadline = time.monotonic() + seconds
    readings = [_total(page, site)]
    while len(readings) < 5 or len(set(readings[-5:])) > 1:
        assert time.monotonic() < deadline, f"the counts do not settle: {readings[-5:]}"
        time.sleep(2.5)
        readings.append(_total(page, site))
    return readings[-1]


def test_organiser_signs_in_sees_the_chart_pauses_resumes_deletes_a_statement_and_starts_an_export(
    page: Any, site: str, local_system: LocalSystem, axe_source: str  # noqa: F811
) -> None:
    found: dict[str, list[str]] = {}

    def check(name: str) -> None:
        found[name] = _violations(page, axe_source)

    email, one_time = _create_account(local_system, "organiser")
    page.goto(f"{site}/organiser")
    page.wait_for_url("**/organiser/sign-in")
    check("sign-in")
    page.locator("#email").fill(email)
    page.locator("#password").fill("Wrong-Password-2026!")
    page.locator("button[type=submit]").click()
    assert "The email address or the password is not right." in page.locator("[role=alert]").inner_text()
    check("sign-in refused")
    page.locator("#email").fill(email)
    page.locator("#password").fill(one_time)
    page.locator("button[type=submit]").click()
    page.locator("#new_password").wait_for()
    check("new password")
    page.locator("#new_password").fill(NEW_PASSWORD)
    page.locator("button[type=submit]").click()
    page.locator("#code").wait_for()
    check("authenticator set-up")
    screenshot(page, "organiser-authenticator-setup")
    secret = page.locator("dd code").inner_text()
    page.locator("#code").fill(_code(secret))
    page.locator("button[type=submit]").click()
    page.wait_for_url("**/organiser")

    assert page.locator("svg[role=img]").first.is_visible(), "the dashboard shows a chart"
    check("dashboard")
    screenshot(page, "organiser-dashboard")
    before = _settled_total(page, site)

    page.locator("button", has_text="Pause collection").click()
    assert "Collection is paused" in page.locator("[role=status]").first.inner_text()
    page.goto(f"{site}/sign/PL?lang=pl")
    _eventually(lambda: page.reload() is not None
                and page.locator("h1").inner_text() == "Zbieranie jest wstrzymane")
    page.goto(f"{site}/organiser")
    page.locator("button", has_text="Resume collection").click()
    assert "Collection has resumed." in page.locator("[role=status]").first.inner_text()
    _eventually(lambda: page.goto(f"{site}/sign/PL?lang=en") is not None
                and page.locator("#full_first_names").count() == 1)

    page.locator("#full_first_names").fill("Zofia")
    page.locator("#family_names").fill("Nowak")
    # A person no other browser test signs as: a repeated statement gets a receipt but is not counted.
    page.locator("#id_number").fill(pesel(date(1961, 5, 17), serial=f"{secrets.randbelow(10_000):04d}"))
    page.locator("#privacy_accepted").check()
    page.locator("button[type=submit]").click()
    statement_id = page.locator(".receipt code").inner_text()
    _eventually(lambda: _total(page, site) == before + 1, seconds=60)
    screenshot(page, "organiser-dashboard-counted")

    page.locator("#statement_id").fill("not-an-identifier")
    page.locator("button", has_text="Delete the statement").click()
    assert "That is not a statement identifier." in page.locator("[role=alert]").inner_text()
    check("deletion refused")
    page.goto(f"{site}/organiser")
    page.locator("#statement_id").fill(statement_id)
    page.locator("#reason").select_option("erasure_request")
    page.locator("button", has_text="Delete the statement").click()
    assert page.locator("h1").inner_text() == "Statement deleted"
    check("statement deleted")
    _eventually(lambda: _total(page, site) == before, seconds=60)
    screenshot(page, "organiser-dashboard-after-deletion")

    # A statement that stays, so the export and the charts have something to show (a bar for one signatory).
    page.goto(f"{site}/sign/PL?lang=en")
    page.locator("#full_first_names").fill("Jan")
    page.locator("#family_names").fill("Kowalski")
    page.locator("#id_number").fill(pesel(date(1958, 2, 3), serial=f"{secrets.randbelow(10_000):04d}"))
    page.locator("#privacy_accepted").check()
    page.locator("button[type=submit]").click()
    page.locator(".receipt code").wait_for()
    _eventually(lambda: _total(page, site) == before + 1, seconds=60)

    # An operator's export run, and the hourly recount (locally, a minute after the start): the dashboard
    # shows the run's totals and reconciliation, and the counting's lag, repairs and dead letters, from moto.
    exported = subprocess.run(  # noqa: S603 - our own module with fixed arguments
        [sys.executable, "-m", "chalicelib.operator_cli", "--local", "--endpoint", local_system.moto_url, "run"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300, check=False,
        # The served initiative's dates, not the demo file's: after the demo's retention (2028-06-01) the
        # tool would refuse to export.
        env={**os.environ, "INITIATIVE_FILE": str(local_system.initiative_file)})
    assert exported.returncode in (0, 3), exported.stderr  # 3: a State's export and count differ (it says which)
    page.goto(f"{site}/organiser")
    latest_run = page.locator("#export-runs tbody tr").first
    assert re.search(r"complete", latest_run.inner_text())
    exported_total = int(latest_run.locator("td").nth(3).inner_text().replace(",", ""))
    assert exported_total == before + 1  # every counted statement exported, none twice
    assert "yes" in latest_run.locator("td").nth(5).inner_text()  # reconciled with the exact count
    _eventually(lambda: page.reload() is not None
                and "At the last check" in page.locator("#counting-lag").inner_text(), seconds=120)
    assert re.match(r"\d+ batch(es)? of stream records", page.locator("#dead-letters").inner_text())
    check("dashboard with export runs and counting health")
    screenshot(page, "organiser-dashboard-exports-and-health")

    # The organiser starts a run from the dashboard: the page answers at once, the run completes with the
    # same totals, and the audit log names who started each run (the organiser; the operator's AWS identity).
    page.locator("button", has_text="Start an export now").click()
    notice = page.locator("#export-started").inner_text()
    started = re.search(r"An export run \(([0-9A-Za-z._-]+)\) has started", notice)
    assert started, notice
    check("dashboard after starting an export")
    screenshot(page, "organiser-dashboard-export-started")
    _eventually(lambda: page.goto(f"{site}/organiser") is not None
                and page.locator("#export-runs tbody tr th").first.inner_text() == started.group(1)
                and "complete" in page.locator("#export-runs tbody tr").first.inner_text(), seconds=120)
    assert int(page.locator("#export-runs tbody tr").first.locator("td").nth(3).inner_text()
               .replace(",", "")) == exported_total

    page.goto(f"{site}/organiser/audit")
    actions = page.locator("tbody tr td:nth-child(4)").all_inner_texts()
    assert actions[:6] == ["export_started", "export_started", "delete_statement", "resume", "pause", "sign_in"]
    roles = page.locator("tbody tr td:nth-child(3)").all_inner_texts()
    assert roles[:2] == ["organiser", "operator"]
    assert f"run_id: {started.group(1)}; via: console" in page.locator("tbody tr").first.inner_text()
    check("audit log")

    assert {name: problems for name, problems in found.items() if problems} == {}


def test_organiser_signs_in_and_pauses_with_the_keyboard_only(
    page: Any, site: str, local_system: LocalSystem
) -> None:
    email, one_time = _create_account(local_system, "organiser")
    page.goto(f"{site}/organiser/sign-in")
    _tab_to(page, "email")
    page.keyboard.type(email)
    _tab_to(page, "password")
    page.keyboard.type(one_time)
    page.keyboard.press("Enter")
    page.locator("#new_password").wait_for()
    _tab_to(page, "new_password")
    page.keyboard.type(NEW_PASSWORD)
    page.keyboard.press("Enter")
    page.locator("#code").wait_for()
    _tab_to(page, "code")
    page.keyboard.type(_code(page.locator("dd code").inner_text()))
    page.keyboard.press("Enter")
    page.wait_for_url("**/organiser")

    for _ in range(60):
        page.keyboard.press("Tab")
        focused = _focused(page)
        assert focused["outline"] or focused["ring"], f"no visible focus on {focused}"
        if focused["tag"] == "button" and focused["text"] == "Pause collection":
            break
    else:
        raise AssertionError("the pause button is not reachable with Tab")
    page.keyboard.press("Enter")
    page.wait_for_url("**/organiser?done=paused")
    assert "Collection is paused" in page.locator("[role=status]").first.inner_text()
    for _ in range(60):
        page.keyboard.press("Tab")
        if _focused(page)["text"] == "Resume collection":
            break
    else:
        raise AssertionError("the resume button is not reachable with Tab")
    page.keyboard.press("Enter")
    page.wait_for_url("**/organiser?done=resumed")
    assert "Collection has resumed." in page.locator("[role=status]").first.inner_text()
