"""A person signs in a real browser (Debian's chromium, driven by Playwright) against `make run`'s server."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from chalicelib.config import PROJECT_ROOT

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = PROJECT_ROOT / "artifacts" / "screenshots"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The local system as `make run` starts it, for an initiative collecting today."""
    demo = json.loads((PROJECT_ROOT / "initiatives" / "demo.json").read_text(encoding="utf-8"))
    today = date.today()
    demo["registration_date"] = (today - timedelta(days=30)).isoformat()
    demo["collection"] = {"start": (today - timedelta(days=1)).isoformat(),
                          "end": (today + timedelta(days=300)).isoformat()}
    initiative_file = tmp_path_factory.mktemp("initiative") / "initiative.json"
    initiative_file.write_text(json.dumps(demo), encoding="utf-8")

    port, moto_port = _free_port(), _free_port()
    env = {**os.environ, "INITIATIVE_FILE": str(initiative_file)}
    server = subprocess.Popen(  # noqa: S603 - our own entry point
        [sys.executable, "-m", "chalicelib.local", "--port", str(port), "--moto-port", str(moto_port)],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url + "/", timeout=2):  # noqa: S310 - loopback only
                break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                output = server.stdout.read() if server.stdout else ""
                server.kill()
                pytest.fail(f"the local system did not start:\n{output}")
            time.sleep(0.3)
    yield url
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed: apt-get install chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        yield launched
        launched.close()


def _screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_polish_citizen_signs_in_the_browser_and_gets_a_receipt(site: str, browser: Any) -> None:
    page = browser.new_page(locale="en-GB")
    page.goto(site + "/")
    assert page.locator("h1").inner_text() == "Clean Rivers for Europe"
    page.select_option("#ms", "PL")
    page.get_by_role("button", name="Continue").click()
    assert page.url.startswith(site + "/sign/PL")

    page.get_by_label("Full first names").fill("Zofia")
    page.get_by_label("Family names").fill("Nowak")
    page.get_by_label("Personal identification number or document number").fill("44051401358")
    page.get_by_role("button", name="Sign the statement of support").click()

    # A wrong check digit and the unticked privacy box: errors next to their fields, values kept.
    assert page.locator("#id_number-error").inner_text().startswith("This number is not valid")
    assert page.locator("#privacy_accepted-error").is_visible()
    assert page.get_by_label("Family names").input_value() == "Nowak"
    _screenshot(page, "form-errors-pl-en")

    page.get_by_label("Personal identification number or document number").fill("44051401359")
    page.get_by_label("I have read the privacy statement.").check()
    page.get_by_role("button", name="Sign the statement of support").click()

    assert page.locator("h1").inner_text() == "Thank you for your support"
    assert re.fullmatch(r"[0-9a-f-]{36}", page.locator(".receipt code").inner_text())
    _screenshot(page, "receipt-pl-en")
    page.close()


def test_german_citizen_signs_in_french_with_residence_and_birth_date(site: str, browser: Any) -> None:
    page = browser.new_page(locale="fr-FR")
    page.goto(site + "/sign/DE")
    assert page.locator("html").get_attribute("lang") == "fr"

    page.locator("#full_first_names").fill("Jürgen")
    page.locator("#family_names").fill("Großmann")
    page.locator("#street").fill("Kastanienallee")
    page.locator("#street_number").fill("12")
    page.locator("#postal_code").fill("10435")
    page.locator("#city").fill("Berlin")
    page.locator("#date_of_birth_day").fill("30")
    page.locator("#date_of_birth_month").fill("2")
    page.locator("#date_of_birth_year").fill("1980")
    page.locator("#privacy_accepted").check()
    page.locator("button[type=submit]").click()

    assert page.locator("#date_of_birth-error").is_visible()  # 30 February does not exist
    _screenshot(page, "form-errors-de-fr")
    page.locator("#date_of_birth_day").fill("28")
    page.locator("#privacy_accepted").check()
    page.locator("button[type=submit]").click()

    assert page.locator(".receipt code").is_visible()
    page.close()
