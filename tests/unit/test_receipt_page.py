"""Receipts are rendered once per day, State and language; each still shows its own identifier."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from chalicelib import services
from chalicelib.rules.member_states import member_state
from chalicelib.signing.submit import Receipt
from chalicelib.web.pages import PageContext, receipt_page

DAY = date(2026, 11, 27)


def _page(context: PageContext, statement_id: str, code: str = "PL") -> str:
    state = member_state(code)
    assert state is not None
    body = receipt_page(context, state, Receipt(statement_id, DAY)).body
    assert isinstance(body, str)
    return body


def test_each_receipt_shows_its_own_identifier_and_nothing_else_differs() -> None:
    context = PageContext("en", services.check_initiative_file(), DAY, "/sign/PL")
    first = _page(context, "11111111-1111-4111-8111-111111111111")
    second = _page(context, "22222222-2222-4222-8222-222222222222")

    assert "<code>11111111-1111-4111-8111-111111111111</code>" in first
    assert "<code>22222222-2222-4222-8222-222222222222</code>" in second
    assert "identifier-slot" not in first
    assert first.replace("11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222") == second


def test_receipt_follows_the_language_state_and_initiative_it_is_for() -> None:
    initiative = services.check_initiative_file()
    statement_id = "33333333-3333-4333-8333-333333333333"
    english = _page(PageContext("en", initiative, DAY, "/sign/PL"), statement_id)
    french = _page(PageContext("fr", initiative, DAY, "/sign/PL"), statement_id)
    german_form = _page(PageContext("en", initiative, DAY, "/sign/DE"), statement_id, "DE")
    renamed = replace(initiative, texts={**initiative.texts, "en": replace(initiative.texts["en"], title="Other")})
    other_initiative = _page(PageContext("en", renamed, DAY, "/sign/PL"), statement_id)

    assert 'lang="fr"' in french and 'lang="en"' in english
    assert "Poland" in english and "Germany" in german_form
    assert "Other" in other_initiative and "Other" not in english
