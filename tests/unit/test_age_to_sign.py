"""Who is old enough to sign: each State's minimum age, on the boundary day."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from chalicelib.rules.member_states import all_member_states
from tests.unit import specimens
from tests.unit.submissions import PART_A_CODES, PART_B_CODES, check, date_parts, error_codes, spec, valid_submission

SIXTEEN = {"AT", "BE", "DE", "EE", "FI", "MT"}
SEVENTEEN = {"EL"}


def _signing_with_birth(code: str, birth: date, today: date) -> dict[str, str]:
    return error_codes(check(code, valid_submission(code, **date_parts(birth)), today=today))


def test_each_state_sets_the_minimum_age_the_commission_lists() -> None:
    for ms in all_member_states():
        expected = 16 if ms.code in SIXTEEN else 17 if ms.code in SEVENTEEN else 18
        assert ms.min_age == expected, ms.code
        expected_rule = "reached_in_calendar_year" if ms.code == "EL" else "reached_on_signing_day"
        assert ms.age_rule == expected_rule, ms.code


BIRTHDAY_STATES = [code for code in PART_A_CODES if code != "EL"]


@pytest.mark.parametrize("code", BIRTHDAY_STATES)
def test_citizen_signing_the_day_before_reaching_the_minimum_age_sees_too_young(code: str) -> None:
    min_age = spec(code).member_state.min_age
    today = date(2026, 10, 15)
    birth = date(today.year - min_age, today.month, today.day)

    errors = _signing_with_birth(code, birth, today - timedelta(days=1))

    assert errors == {"date_of_birth": "too_young"}
    result = check(code, valid_submission(code, **date_parts(birth)), today=today - timedelta(days=1))
    assert result.errors[0].params == {"age": min_age}
    assert not result.errors[0].confirmable


@pytest.mark.parametrize("code", BIRTHDAY_STATES)
def test_citizen_signing_on_the_birthday_that_brings_the_minimum_age_is_accepted(code: str) -> None:
    min_age = spec(code).member_state.min_age
    today = date(2026, 10, 15)
    birth = date(today.year - min_age, today.month, today.day)

    assert _signing_with_birth(code, birth, today) == {}


@pytest.mark.parametrize(("code", "age", "accepted"), [
    ("DE", 15, False), ("DE", 16, True), ("FI", 15, False), ("FI", 16, True),
    ("FR", 17, False), ("FR", 18, True), ("NL", 17, False), ("LU", 17, False), ("LU", 18, True),
])
def test_sixteen_year_olds_may_sign_in_germany_and_finland_but_not_in_eighteen_year_states(
        code: str, age: int, accepted: bool) -> None:
    today = date(2026, 10, 15)
    errors = _signing_with_birth(code, date(today.year - age, 1, 1), today)

    assert (errors == {}) is accepted


def test_greek_citizen_turning_17_on_31_december_may_sign_from_1_january() -> None:
    assert _signing_with_birth("EL", date(2009, 12, 31), today=date(2026, 1, 1)) == {}


def test_greek_citizen_turning_17_next_year_sees_too_young_even_on_31_december() -> None:
    errors = _signing_with_birth("EL", date(2010, 1, 1), today=date(2026, 12, 31))

    assert errors == {"date_of_birth": "too_young"}


def test_greek_citizen_aged_16_on_signing_day_who_turns_17_later_this_year_is_accepted() -> None:
    assert _signing_with_birth("EL", date(2009, 11, 20), today=date(2026, 3, 1)) == {}


# Born on 29 February: in a year without one, the code counts the birthday as reached on 1 March
# (the day after 28 February), because it compares (month, day) pairs: (2, 28) < (2, 29) <= (3, 1).
def test_citizen_born_on_29_february_is_too_young_on_28_february_of_a_common_year() -> None:
    errors = _signing_with_birth("FR", date(2008, 2, 29), today=date(2026, 2, 28))

    assert errors == {"date_of_birth": "too_young"}


def test_citizen_born_on_29_february_reaches_the_age_on_1_march_of_a_common_year() -> None:
    assert _signing_with_birth("FR", date(2008, 2, 29), today=date(2026, 3, 1)) == {}


def test_citizen_born_on_29_february_reaches_the_age_on_29_february_of_a_leap_year() -> None:
    assert _signing_with_birth("DE", date(2012, 2, 29), today=date(2028, 2, 28)) == {"date_of_birth": "too_young"}
    assert _signing_with_birth("DE", date(2012, 2, 29), today=date(2028, 2, 29)) == {}


@pytest.mark.parametrize("code", PART_B_CODES)
def test_part_b_form_asks_no_date_of_birth(code: str) -> None:
    form = spec(code)

    assert all(field.kind != "date" for field in form.fields)
    assert not any(name.startswith("date_of_birth") for name in form.input_names)


def test_part_b_form_accepts_a_number_of_a_child_because_it_checks_no_age() -> None:
    # The age of a Part B signatory is the verifying authority's check: the form has no date to test.
    child_pesel = specimens.pesel(date(2016, 5, 1))

    result = check("PL", valid_submission("PL", id_number=child_pesel))

    assert result.errors == ()
