"""Every page in every language renders, with no %(name)s left unfilled and no English where a translation exists.

The catalogue tests check the catalogues; this checks that the pages use them: a text rendered without
gettext, or a translation whose %(name)s conversions the page does not fill, shows here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from functools import cache

import pytest
from chalice.test import Client
from markupsafe import escape

import app as app_module
from chalicelib import services
from chalicelib.web.i18n import SOURCE_LANGUAGE, SUPPORTED_LANGUAGES, translations
from tests.fakes import web_only_services
from tests.unit.test_catalogues import catalogue

COLLECTING = date(2026, 11, 27)
# Enough wrong answers to show most field errors at once (the POST stops before storage).
BAD_RESIDENCE = ("full_first_names=J%C3%BCrgen1&family_names=&street=&street_number=&postal_code=1&city=&country=DE"
                 "&date_of_birth_day=30&date_of_birth_month=2&date_of_birth_year=1980&lang={lang}")
BAD_DOCUMENT = "full_first_names=Zofia&family_names=Nowak&id_number=44051401358&lang={lang}"
PLACEHOLDER = re.compile(r"%\(\w+\)s|%[sd]\b|\{\{|\}\}|\{%")


@pytest.fixture(params=[COLLECTING, date(2027, 9, 1)], ids=["collecting", "closed"])
def client(request: pytest.FixtureRequest) -> Iterator[Client]:
    day: date = request.param
    services.use(web_only_services(day, {"PL": 1, "DE": 70_000, "MT": 4_000}))
    with Client(app_module.app) as test_client:
        yield test_client
    services.use(None)


@cache
def _english_only(language: str) -> frozenset[str]:
    """Sentences of the English texts that this language translates differently (so must not show)."""
    texts = set()
    for message in catalogue(language):
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in ids:
            if not text or text in strings:
                continue
            texts.update(part.strip() for part in PLACEHOLDER.split(text) if len(part.strip()) >= 20)
    return frozenset(texts)


def _token(client: Client, code: str) -> str:
    found = re.search(r'name="form_token" value="([^"]+)"', client.http.get(f"/sign/{code}").body.decode())
    return found.group(1) if found else ""


def _pages(client: Client, language: str) -> dict[str, str]:
    form = {"content-type": "application/x-www-form-urlencoded"}
    responses = {
        "initiative": client.http.get(f"/?lang={language}"),
        "form DE": client.http.get(f"/sign/DE?lang={language}"),
        "form IT": client.http.get(f"/sign/IT?lang={language}"),
        "unknown State": client.http.get(f"/sign/XX?lang={language}"),
        "not found": client.http.get(f"/not-found?lang={language}"),
        "errors DE": client.http.post(f"/sign/DE?lang={language}", headers=form,
                                      body=f"{BAD_RESIDENCE}&form_token={_token(client, 'DE')}".format(
                                          lang=language).encode()),
        "errors PL": client.http.post(f"/sign/PL?lang={language}", headers=form,
                                      body=f"{BAD_DOCUMENT}&form_token={_token(client, 'PL')}".format(
                                          lang=language).encode()),
    }
    assert all(response.status_code < 500 for response in responses.values())
    return {name: response.body.decode() for name, response in responses.items()}


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_every_page_renders_in_the_language_with_nothing_left_untranslated(client: Client, language: str) -> None:
    pages = _pages(client, language)
    gettext = translations(language).gettext
    assert str(escape(gettext("This page does not exist."))) in pages["not found"]  # a value: escaped
    collecting = "form_token" in pages["form DE"]
    for name in ("errors DE", "errors PL"):  # the pages under test really show the errors, or the closed page
        expected = gettext("Please correct the following:") if collecting else gettext("Collection is closed")
        assert expected in pages[name], name
    for name, page in pages.items():
        assert f'<html lang="{language}">' in page, name
        visible = re.sub(r"<[^>]+>", " ", page)
        assert not PLACEHOLDER.search(visible), f"{language} {name}: {PLACEHOLDER.search(visible)}"
        if language != SOURCE_LANGUAGE:
            leaked = sorted(text for text in _english_only(language) if text in visible)
            assert not leaked, f"{language} {name}: English shown: {leaked}"



def test_a_document_named_the_same_in_the_page_language_is_named_once() -> None:
    services.use(web_only_services(COLLECTING, {}))
    with Client(app_module.app) as client:
        swedish = client.http.get("/sign/SE?lang=sv").body.decode()
        english = client.http.get("/sign/SE?lang=en").body.decode()
    services.use(None)
    assert "form_token" in swedish
    assert "Personnummer (Personnummer)" not in swedish and "Personnummer" in swedish
    assert "(Personnummer)" in english  # another language: its own name, then the native one
