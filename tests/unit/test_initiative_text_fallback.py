"""The initiative's own texts per language, and the original language, marked as such, where one is missing."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from chalicelib import services
from chalicelib.counting.progress import measure_progress
from chalicelib.web.i18n import SUPPORTED_LANGUAGES, translations
from chalicelib.web.pages import PageContext, initiative_page

DAY = date(2026, 11, 27)


def _page(language: str, texts_in: tuple[str, ...] | None = None) -> str:
    initiative = services.check_initiative_file()
    if texts_in is not None:
        initiative = replace(initiative, texts={code: initiative.texts[code] for code in texts_in})
    progress = measure_progress({}, registration_date=initiative.registration_date,
                                collection_start=initiative.collection_start,
                                collection_end=initiative.collection_end, today=DAY)
    body = initiative_page(PageContext(language, initiative, DAY, "/"), progress, "no-store").body
    assert isinstance(body, str)
    return body


def test_the_demo_initiative_has_its_texts_in_every_language() -> None:
    assert set(services.check_initiative_file().texts) == set(SUPPORTED_LANGUAGES)


def test_a_text_in_the_pages_language_is_shown_as_that_language() -> None:
    page = _page("el")
    greek_title = services.check_initiative_file().texts["el"].title
    assert '<html lang="el">' in page
    assert f'<h1 lang="el">{greek_title}</h1>' in page
    assert "original language" not in page


def test_a_missing_text_falls_back_to_the_original_language_marked_with_its_lang() -> None:
    # The original (English) is not the first text the initiative lists: a fallback to whichever text
    # comes first would show the French one here.
    page = _page("mt", texts_in=("fr", "de", "en"))
    assert '<html lang="mt">' in page  # the page's own texts stay Maltese
    assert '<h1 lang="en">Clean Rivers for Europe</h1>' in page
    assert page.count('lang="en">We ask the Commission') == 1  # the subject matter, marked English
    note = translations("mt").gettext("This initiative's texts are not available in this language; "
                                      "they are shown in their original language.")
    assert f'<p class="note">{note}</p>' in page  # saying so, in Maltese
