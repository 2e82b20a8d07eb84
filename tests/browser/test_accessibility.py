"""WCAG 2.1 AA in a real browser: axe-core on every page in several languages, keyboard only, no JavaScript,
reflow at 320 CSS pixels (400% zoom of a 1280-pixel window), and screenshots of the form for people to look at.

axe-core comes from npm (tests/browser/package.json; `make test` runs `npm ci` there) and is injected
into each page; the context bypasses the pages' CSP for that one script, which the pages never carry.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from chalicelib.initiative import load_initiative
from chalicelib.web import pages
from chalicelib.web.i18n import translations
from tests.browser.conftest import screenshot
from tests.unit.submissions import VALID_ID_NUMBERS, VALID_POSTCODES

pytestmark = pytest.mark.browser

AXE_SCRIPT = Path(__file__).with_name("node_modules") / "axe-core" / "axe.min.js"
# The rules of WCAG 2.0 and 2.1, levels A and AA, and axe's best practices (landmarks, headings...).
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
# English, two other Latin scripts with long words, Greek and Cyrillic scripts, and the two languages
# with the fewest speakers, whose catalogues are the likeliest to be incomplete.
AXE_LANGUAGES = ["en", "de", "el", "bg", "ga", "mt"]

PESEL = "44051401359"  # a valid Polish personal number of the specimens (tests/unit/specimens.py)


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE_SCRIPT.exists():
        pytest.fail(f"axe-core is not installed: run `npm ci` in {AXE_SCRIPT.parents[2]} (make test does)")
    return AXE_SCRIPT.read_text(encoding="utf-8")


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    yield opened
    context.close()


def _violations(page: Any, axe_source: str) -> list[str]:
    page.add_script_tag(content=axe_source)
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        AXE_TAGS,
    )
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} at "
        + "; ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
        for violation in result["violations"]
    ]


def _closed_page_html(language: str) -> str:
    """The page a citizen gets once collection has ended; the running system is collecting, so render it here."""
    initiative = load_initiative(pages.PROJECT_ROOT / "initiatives" / "demo.json")
    after = initiative.collection_end + timedelta(days=1)
    response = pages.closed_page(pages.PageContext(language, initiative, after, "/sign/PL"), status=403)
    return str(response.body)


def _sign_polish(page: Any, site: str, language: str) -> None:
    page.goto(f"{site}/sign/PL?lang={language}")
    page.locator("#full_first_names").fill("Zofia")
    page.locator("#family_names").fill("Nowak")
    page.locator("#id_number").fill(PESEL)
    page.locator("#privacy_accepted").check()
    page.locator("button[type=submit]").click()
    page.locator(".receipt").wait_for()


@pytest.mark.parametrize("language", AXE_LANGUAGES)
def test_every_page_has_no_axe_violations(page: Any, site: str, axe_source: str, language: str) -> None:
    found: dict[str, list[str]] = {}

    def check(name: str) -> None:
        assert page.locator("html").get_attribute("lang") == language, name
        found[name] = _violations(page, axe_source)

    page.goto(f"{site}/?lang={language}")
    check("initiative")
    for code in ("DE", "PL", "IT"):  # residence and birth date; one document; a choice of documents
        page.goto(f"{site}/sign/{code}?lang={language}")
        check(f"form {code}")
    page.goto(f"{site}/sign/DE?lang={language}")
    page.locator("#full_first_names").fill("Jürgen")
    page.locator("#postal_code").fill("1")
    page.locator("button[type=submit]").click()
    assert page.locator(".error-summary").is_visible()
    check("form DE with errors")
    page.goto(f"{site}/sign/LT?lang={language}")
    page.locator("#id_number").fill("1")
    page.locator("button[type=submit]").click()
    check("form LT with errors")
    _sign_polish(page, site, language)
    check("receipt")
    page.goto(f"{site}/sign/XX?lang={language}")
    check("unknown Member State")
    page.goto(f"{site}/not-found?lang={language}")  # where CloudFront sends a path the app has no route for
    check("not found")
    closed_html = _closed_page_html(language)
    page.route(f"{site}/closed-preview", lambda route: route.fulfill(
        status=200, content_type="text/html; charset=utf-8", body=closed_html))
    page.goto(f"{site}/closed-preview")
    check("collection closed")

    assert {name: problems for name, problems in found.items() if problems} == {}


def _focused(page: Any) -> dict[str, Any]:
    return dict(page.evaluate("""() => {
        const element = document.activeElement;
        const style = getComputedStyle(element);
        return {id: element.id, tag: element.tagName.toLowerCase(), type: element.type || '',
                className: element.className || '', text: (element.innerText || '').trim().slice(0, 80),
                outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2,
                ring: style.boxShadow !== 'none'};
    }"""))


def _tab_to(page: Any, wanted: str, limit: int = 120) -> dict[str, Any]:
    """Press Tab until the element with id `wanted` has focus; every stop on the way must show its focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = _focused(page)
        assert focused["outline"] or focused["ring"], f"no visible focus on {focused}"
        if focused["id"] == wanted:
            return focused
    raise AssertionError(f"#{wanted} is not reachable with Tab")


def test_a_citizen_signs_with_the_keyboard_only(page: Any, site: str) -> None:
    page.goto(f"{site}/?lang=en")
    page.keyboard.press("Tab")
    assert _focused(page)["className"] == "skip", "the first Tab stop is the link that skips to the content"
    _tab_to(page, "ms")
    page.keyboard.type("Poland")  # a closed select takes type-ahead, as a person would pick their State
    assert page.locator("#ms").input_value() == "PL"
    page.keyboard.press("Tab")
    assert _focused(page)["tag"] == "button"
    page.keyboard.press("Enter")
    page.wait_for_url("**/sign/PL?lang=en")

    _tab_to(page, "full_first_names")
    page.keyboard.type("Zofia")
    _tab_to(page, "family_names")
    page.keyboard.type("Nowak")
    _tab_to(page, "id_number")
    page.keyboard.type(PESEL)
    page.keyboard.press("Enter")  # send without ticking the privacy box: refused, and told why

    page.locator(".error-summary").wait_for()
    assert "error-summary" in _focused(page)["className"], "focus moves to the summary of errors"
    page.keyboard.press("Tab")
    link = _focused(page)
    assert link["tag"] == "a" and link["text"] == "Confirm that you have read the privacy statement."
    page.keyboard.press("Enter")  # the summary's link leads to the error, just before the field
    focused = _tab_to(page, "privacy_accepted", limit=1)
    assert focused["type"] == "checkbox"
    page.keyboard.press("Space")
    assert page.locator("#privacy_accepted").is_checked()
    assert page.locator("#family_names").input_value() == "Nowak", "what was typed is kept"
    page.keyboard.press("Tab")
    assert _focused(page)["tag"] == "button"
    page.keyboard.press("Enter")

    page.locator(".receipt").wait_for()
    assert page.locator("h1").inner_text() == "Thank you for your support"


def test_a_citizen_signs_without_javascript(browser: Any, site: str) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{site}/?lang=fr")
    assert page.locator("script").count() == 0, "the pages carry no script at all"
    page.select_option("#ms", "PL")
    page.locator("form.choose button").click()
    _sign_polish(page, site, "fr")
    assert page.locator("h1").inner_text() == "Merci de votre soutien"
    context.close()


@pytest.mark.parametrize("path", ["/", "/sign/DE", "/sign/IT", "/sign/EL"])
@pytest.mark.parametrize("language", ["de", "el", "ga", "mt"])
def test_pages_reflow_at_320_css_pixels(browser: Any, site: str, path: str, language: str) -> None:
    """WCAG 1.4.10: at 400% zoom of a 1280-pixel window nothing needs scrolling sideways."""
    context = browser.new_context(viewport={"width": 320, "height": 640})
    page = context.new_page()
    page.goto(f"{site}{path}?lang={language}")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    context.close()
    assert width <= 320


SCREENSHOT_LANGUAGES = {"el": "EL", "bg": "BG", "mt": "MT"}
VIEWPORTS = {"mobile": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("language", list(SCREENSHOT_LANGUAGES))
def test_screenshots_of_the_form(browser: Any, site: str, language: str, viewport: str) -> None:
    """For people to look at (artifacts/screenshots/): the form of each language's own Member State."""
    context = browser.new_context(viewport=VIEWPORTS[viewport], locale=language)
    page = context.new_page()
    page.goto(f"{site}/sign/{SCREENSHOT_LANGUAGES[language]}")
    assert page.locator("html").get_attribute("lang") == language  # chosen from Accept-Language
    screenshot(page, f"form-{language}-{viewport}")
    context.close()


def test_page_weight_of_the_form_is_within_budget(browser: Any, site: str) -> None:
    """The heaviest form (a residence address: every country in the list) with its stylesheet, at most 50 KB."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{site}/sign/DE?lang=de", wait_until="load")
    # What the browser fetched, as Resource Timing counts it: the document, then every resource it loaded.
    sizes = dict(page.evaluate("""() => performance.getEntries()
        .filter(entry => entry.entryType === 'navigation' || entry.entryType === 'resource')
        .map(entry => [entry.name, entry.encodedBodySize])"""))
    context.close()
    # The icon comes when the browser gets round to it (and is counted then); never /favicon.ico.
    fetched = sorted(name.removeprefix(site) for name in sizes if not name.endswith("/assets/favicon.svg"))
    assert fetched == ["/assets/style.css", "/sign/DE?lang=de"], sizes  # nothing else
    assert all(size > 0 for size in sizes.values()), sizes
    assert sum(sizes.values()) <= 50_000, sizes


def _fill_residence(page: Any, postcode: str) -> None:
    page.locator("#full_first_names").fill("Eleni Maria")
    page.locator("#family_names").fill("Papadopoulou")
    page.locator("#street").fill("Odos Ermou")
    page.locator("#street_number").fill("12")
    page.locator("#postal_code").fill(postcode)
    page.locator("#city").fill("Athina")
    page.locator("#date_of_birth_day").fill("14")
    page.locator("#date_of_birth_month").fill("5")
    page.locator("#date_of_birth_year").fill("1984")


def _fill_document(page: Any, number: str) -> None:
    page.locator("#full_first_names").fill("Maria")
    page.locator("#family_names").fill("Borg")
    page.locator("#id_number").fill(number)


# A citizen of each State signs in its own language (for Ireland, Irish), by the labels of that language.
SIGNERS = {
    "el": ("EL", lambda page: _fill_residence(page, VALID_POSTCODES["GR"])),
    "bg": ("BG", lambda page: _fill_document(page, VALID_ID_NUMBERS[("BG", "personal.number")])),
    "ga": ("IE", lambda page: _fill_residence(page, VALID_POSTCODES["IE"])),
    "mt": ("MT", lambda page: _fill_document(page, VALID_ID_NUMBERS[("MT", "id.card")])),
}


@pytest.mark.parametrize("language", list(SIGNERS))
def test_a_citizen_signs_in_their_own_language(page: Any, site: str, language: str) -> None:
    texts = translations(language)
    state, fill = SIGNERS[language]
    page.goto(f"{site}/sign/{state}?lang={language}")
    assert page.locator("h1").inner_text().startswith(texts.gettext("Statement of support – %(state)s")[:8])
    fill(page)
    page.get_by_label(texts.gettext("I have read the privacy statement.")).check()
    page.get_by_role("button", name=texts.gettext("Sign the statement of support")).click()

    assert page.locator("h1").inner_text() == texts.gettext("Thank you for your support")
    assert page.locator("html").get_attribute("lang") == language
    screenshot(page, f"receipt-{state}-{language}")
