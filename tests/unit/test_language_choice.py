"""Which language a citizen sees: the link they followed, then their browser's preference, then English."""

from __future__ import annotations

import pytest

from chalicelib.web.i18n import SOURCE_LANGUAGE, SUPPORTED_LANGUAGES, choose_language


def test_the_24_official_languages_of_the_union_are_offered() -> None:
    assert SOURCE_LANGUAGE == "en"
    assert sorted(SUPPORTED_LANGUAGES) == ["bg", "cs", "da", "de", "el", "en", "es", "et", "fi", "fr", "ga", "hr",
                                           "hu", "it", "lt", "lv", "mt", "nl", "pl", "pt", "ro", "sk", "sl", "sv"]


@pytest.mark.parametrize(("accept_language", "expected"), [
    ("el-GR,el;q=0.9", "el"), ("bg", "bg"), ("ga-IE,en-IE;q=0.8", "ga"), ("mt-MT", "mt"), ("pt-BR", "pt"),
    ("sv-FI,fi;q=0.5", "sv"), ("nb-NO,da;q=0.5", "da"), ("ca-ES,es;q=0.8", "es"),
])
def test_a_browser_in_any_eu_language_gets_that_language(accept_language: str, expected: str) -> None:
    assert choose_language(None, accept_language) == expected


@pytest.mark.parametrize(("query", "accept_language", "expected"), [
    ({"lang": "fr"}, "en-GB,en;q=0.9", "fr"),
    ({"lang": "en"}, "fr-FR,fr;q=0.9", "en"),
    ({"lang": "FR"}, None, "fr"),
    ({"lang": " fr "}, None, "fr"),
    ({"lang": "xx"}, "fr", "fr"),
    ({"lang": ""}, "fr", "fr"),
    ({"other": "1"}, "fr", "fr"),
    (None, "fr", "fr"),
    ({}, "fr", "fr"),
], ids=["link-french-over-english-browser", "link-english-over-french-browser", "link-upper-case",
        "link-with-spaces", "unsupported-link-falls-back-to-browser", "empty-link", "no-lang-in-query",
        "no-query", "empty-query"])
def test_citizen_following_a_link_with_lang_sees_that_language(query: dict[str, str] | None,
                                                                accept_language: str | None,
                                                                expected: str) -> None:
    assert choose_language(query, accept_language) == expected


@pytest.mark.parametrize(("accept_language", "expected"), [
    ("fr-FR,fr;q=0.9,en;q=0.8", "fr"),
    ("fr-CA", "fr"),
    ("FR-be", "fr"),
    ("tr-TR,tr;q=0.9,fr;q=0.8,en;q=0.7", "fr"),
    ("tr-TR,tr;q=0.9,en;q=0.8,fr;q=0.7", "en"),
    ("en;q=0.5,fr;q=0.8", "fr"),
    ("en;q=0.8,fr;q=0.8", "en"),
    ("fr;q=0.8,en;q=0.8", "fr"),
    ("fr;q=0,en;q=0.1", "en"),
    ("fr;q=0", "en"),
    ("fr;q=abc,en;q=0.5", "en"),
    ("fr ; q=0.9 , tr", "fr"),
    ("*", "en"),
    ("*;q=0.5,fr;q=0.4", "fr"),
], ids=["french-browser", "french-canadian", "region-in-caps", "turkish-then-french", "turkish-then-english",
        "higher-q-wins", "equal-q-keeps-order", "equal-q-keeps-order-french-first", "q-zero-means-not",
        "only-refused", "broken-q-ignored", "spaces-around", "wildcard", "wildcard-then-french"])
def test_citizen_without_lang_sees_the_first_supported_language_their_browser_prefers(accept_language: str,
                                                                                       expected: str) -> None:
    assert choose_language(None, accept_language) == expected


@pytest.mark.parametrize("accept_language", [None, "", "tr-TR,tr;q=0.9", "uk,ru;q=0.5", ",,,;;;", "x" * 5000,
                                             ",".join(["tr"] * 30) + ",fr"],
                         ids=["no-header", "empty", "turkish-only", "ukrainian-russian", "junk", "huge",
                              "fr-after-20-tags"])
def test_citizen_whose_languages_are_not_offered_sees_english(accept_language: str | None) -> None:
    assert choose_language(None, accept_language) == "en"
