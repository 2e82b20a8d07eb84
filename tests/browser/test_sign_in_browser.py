"""A person signs in a real browser (Debian's chromium, driven by Playwright) against `make run`'s server."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser


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
    screenshot(page, "form-errors-pl-en")

    page.get_by_label("Personal identification number or document number").fill("44051401359")
    page.get_by_label("I have read the privacy statement.").check()
    page.get_by_role("button", name="Sign the statement of support").click()

    assert page.locator("h1").inner_text() == "Thank you for your support"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}-[0-9a-f-]{36}", page.locator(".receipt code").inner_text())
    screenshot(page, "receipt-pl-en")
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
    screenshot(page, "form-errors-de-fr")
    page.locator("#date_of_birth_day").fill("28")
    page.locator("#privacy_accepted").check()
    page.locator("button[type=submit]").click()

    assert page.locator(".receipt code").is_visible()
    page.close()
