"""The birth date an ID number states, which decides whether a Part B citizen is old enough to sign."""

from __future__ import annotations

from datetime import date

from chalicelib.rules.member_states import IdDocument, member_state
from chalicelib.signing.id_numbers import birth_date_in
from tests.unit.test_age_to_sign import _belgian_number_with_unknown_day


def _dated_document(code: str) -> IdDocument:
    state = member_state(code)
    assert state is not None
    return next(document for document in state.id_documents if document.birth_date)


def test_a_hungarian_born_on_new_years_eve_is_dated_by_every_digit_of_month_and_day() -> None:
    # Digits 2-7 are YYMMDD: a month and a day of two digits each, both above 9 here.
    assert birth_date_in(_dated_document("HU"), "18512311236") == date(1985, 12, 31)


def test_a_belgian_whose_birth_day_was_not_known_is_dated_from_the_first_day_the_number_allows() -> None:
    # The first day: whoever is too young even if born that day is; no one old enough is refused.
    belgian = _dated_document("BE")

    assert birth_date_in(belgian, _belgian_number_with_unknown_day(1990)) == date(1990, 1, 1)
    assert birth_date_in(belgian, _belgian_number_with_unknown_day(1990, month=7)) == date(1990, 7, 1)


def test_a_belgian_whose_birth_date_was_not_known_at_all_is_dated_by_nothing() -> None:
    # The register gives such people the fictitious date 1900-00-01 (000001): no year to check an age by.
    payload = "000001123"
    number = f"{payload}{97 - int(payload) % 97:02d}"

    assert birth_date_in(_dated_document("BE"), number) is None
