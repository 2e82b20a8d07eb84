"""Languages: which one a request gets, its gettext catalogue, and CLDR formatting through Babel.

Adding a language is data: its catalogue under chalicelib/web/locale/ (compiled by `make catalogs`)
and its code in SUPPORTED_LANGUAGES.
"""

from __future__ import annotations

import gettext
from collections.abc import Mapping
from datetime import date
from functools import cache
from pathlib import Path

LOCALE_DIR = Path(__file__).with_name("locale")
DOMAIN = "messages"
SOURCE_LANGUAGE = "en"  # the language the message ids are written in
# The 24 official languages of the Union, in the order of their codes (the EU's own protocol order
# sorts by each language's name for itself, which these codes follow closely enough for a switcher).
SUPPORTED_LANGUAGES = (
    "bg", "cs", "da", "de", "el", "en", "es", "et", "fi", "fr", "ga", "hr",
    "hu", "it", "lt", "lv", "mt", "nl", "pl", "pt", "ro", "sk", "sl", "sv",
)
# Each in its own language, for the switcher.
LANGUAGE_NAMES = {
    "bg": "български", "cs": "čeština", "da": "dansk", "de": "Deutsch", "el": "ελληνικά",
    "en": "English", "es": "español", "et": "eesti", "fi": "suomi", "fr": "français",
    "ga": "Gaeilge", "hr": "hrvatski", "hu": "magyar", "it": "italiano", "lt": "lietuvių",
    "lv": "latviešu", "mt": "Malti", "nl": "Nederlands", "pl": "polski", "pt": "português",
    "ro": "română", "sk": "slovenčina", "sl": "slovenščina", "sv": "svenska",
}
# CLDR locale that formats each language's numbers, dates and country names where the bare code would
# pick another country's variant: the EU writes British English and European Portuguese.
CLDR_LOCALES = {"en": "en_GB", "pt": "pt_PT"}


class MissingCatalogueError(RuntimeError):
    pass


def choose_language(query: Mapping[str, str] | None, accept_language: str | None) -> str:
    """The URL's ?lang= wins; then the first supported language in Accept-Language; then English."""
    if query:
        requested = query.get("lang", "").strip().lower()
        if requested in SUPPORTED_LANGUAGES:
            return requested
    for language in _accepted(accept_language or ""):
        if language in SUPPORTED_LANGUAGES:
            return language
    return SOURCE_LANGUAGE


def _accepted(header: str) -> list[str]:
    """Primary language subtags of an Accept-Language header, most preferred first."""
    weighted: list[tuple[float, int, str]] = []
    for index, item in enumerate(header.split(",")[:20]):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        primary = tag.strip().split("-")[0].lower()
        if primary and quality > 0:
            weighted.append((-quality, index, primary))
    return [language for _, _, language in sorted(weighted)]


@cache
def translations(language: str) -> gettext.NullTranslations:
    if language == SOURCE_LANGUAGE:
        return gettext.NullTranslations()
    try:
        return gettext.translation(DOMAIN, localedir=str(LOCALE_DIR), languages=[language])
    except FileNotFoundError:
        raise MissingCatalogueError(
            f"no compiled catalogue for {language!r} in {LOCALE_DIR}: run `make catalogs`"
        ) from None


def format_number(value: int, language: str) -> str:
    from babel.numbers import format_decimal

    return str(format_decimal(value, locale=CLDR_LOCALES.get(language, language)))


def format_percent(percent: float, language: str) -> str:
    """A whole percentage, rounded down so that "100 %" is never shown short of 100: "37%", "37 %"."""
    from babel.numbers import format_percent as babel_format_percent

    return str(babel_format_percent(int(percent) / 100, locale=CLDR_LOCALES.get(language, language)))


@cache  # the same few days and languages, rendered on every page
def format_day(value: date, language: str) -> str:
    from babel.dates import format_date

    return str(format_date(value, format="long", locale=CLDR_LOCALES.get(language, language)))


# Codes Babel lists among territories that are no country a person can live in.
_NOT_COUNTRIES = frozenset({"EU", "EZ", "UN", "QO", "XA", "XB", "ZZ"})


@cache
def country_names(language: str) -> tuple[tuple[str, str], ...]:
    """(ISO code, name in `language`) for every country, sorted as that language sorts names."""
    from babel import Locale

    territories = Locale.parse(CLDR_LOCALES.get(language, language)).territories
    countries = [(code, name) for code, name in territories.items()
                 if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES]
    return tuple(sorted(countries, key=lambda item: _sort_key(item[1])))


def _sort_key(name: str) -> str:
    import unicodedata

    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


@cache
def country_codes() -> frozenset[str]:
    """The ISO codes a citizen may give as country of residence (the same in every language)."""
    return frozenset(code for code, _ in country_names(SOURCE_LANGUAGE))


@cache
def _country_names_by_code(language: str) -> dict[str, str]:
    return dict(country_names(language))


def country_name(iso_code: str, language: str) -> str:
    return _country_names_by_code(language).get(iso_code, iso_code)
