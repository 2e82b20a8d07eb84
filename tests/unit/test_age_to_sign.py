"""Who is old enough to sign: each State's minimum age, on the boundary day."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from datetime import date, timedelta

import pytest

from chalicelib.rules.member_states import all_member_states
from tests.unit import specimens
from tests.unit.submissions import (
    PART_A_CODES,
    PART_B_CODES,
    TODAY,
    check,
    date_parts,
    error_codes,
    spec,
    valid_submission,
)

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


@pytest.mark.parametrize("code", BIRTHDAY_STATES)
def test_citizen_a_year_past_the_minimum_age_with_a_birthday_later_this_year_is_accepted(code: str) -> None:
    min_age = spec(code).member_state.min_age
    today = date(2026, 10, 15)
    # Born in December: min_age + 1 years ago by the calendar year, min_age years old today.
    birth = date(today.year - min_age - 1, 12, 1)

    assert _signing_with_birth(code, birth, today) == {}


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


# Numbers that state the birth date, made by each authority's rule (tests/unit/specimens.py).
NUMBER_WITH_BIRTH = {
    "BE": specimens.belgian_national_number,
    "BG": specimens.egn,
    "EE": specimens.baltic_personal_code,
    "LT": specimens.baltic_personal_code,
    "LV": specimens.latvian_personal_code_old,
    "PL": specimens.pesel,
    "RO": specimens.cnp,
    "SE": functools.partial(specimens.personnummer, full_year=True),
    "SI": specimens.emso,
}


def _number(make: Callable[..., str], birth: date) -> str:
    with contextlib.suppress(ValueError):
        return make(birth)
    for serial in range(124, 200):  # a few serials are never issued on some days (a check digit of 10)
        with contextlib.suppress(ValueError):
            return make(birth, serial=str(serial))
    raise AssertionError(f"no specimen for {birth}")


def _signing_with_number(code: str, birth: date, today: date = TODAY) -> dict[str, str]:
    number = _number(NUMBER_WITH_BIRTH[code], birth)
    document = next(document for document in spec(code).member_state.id_documents if document.birth_date)
    submitted = valid_submission(code, id_type=document.type, id_number=number, format_confirmed="yes")
    return error_codes(check(code, submitted, today=today))


@pytest.mark.parametrize("code", sorted(NUMBER_WITH_BIRTH))
def test_child_whose_number_states_their_birth_date_is_told_the_minimum_age(code: str) -> None:
    ten_years_old = TODAY.replace(year=TODAY.year - 10)

    assert _signing_with_number(code, ten_years_old) == {"id_number": "too_young"}


@pytest.mark.parametrize("code", sorted(NUMBER_WITH_BIRTH))
def test_number_of_someone_not_yet_born_is_refused_as_a_future_birth_date(code: str) -> None:
    # python-stdnum already finds no valid century for a Belgian number of the future: its check fails.
    expected = "id_invalid" if code == "BE" else "date_in_future"
    for year in (2030, 2044):
        assert _signing_with_number(code, date(year, 3, 14)) == {"id_number": expected}, year


@pytest.mark.parametrize("code", sorted(NUMBER_WITH_BIRTH))
def test_person_whose_number_states_the_minimum_age_today_signs(code: str) -> None:
    state = spec(code).member_state
    birthday = TODAY.replace(year=TODAY.year - state.min_age)

    assert _signing_with_number(code, birthday) == {}
    assert _signing_with_number(code, birthday + timedelta(days=1)) == {"id_number": "too_young"}


def test_number_with_a_date_too_young_gets_the_message_of_part_a_forms() -> None:
    from chalicelib.web.i18n import translations
    from chalicelib.web.messages import error_message

    part_a = check("DE", valid_submission("DE", **date_parts(date(2020, 1, 1)))).errors
    part_b = check("PL", valid_submission("PL", id_number=specimens.pesel(date(2020, 1, 1)))).errors

    def text(errors: tuple[object, ...]) -> str:
        return error_message(errors[0], translations("en"), calendar_year_rule=False)  # type: ignore[arg-type]

    assert text(part_a).replace("16", "18") == text(part_b)


def test_latvian_code_of_the_new_kind_states_no_date_and_passes_without_an_age_check() -> None:
    assert error_codes(check("LV", valid_submission("LV", id_number=specimens.latvian_personal_code_new()))) == {}


def test_swedish_number_typed_with_ten_digits_is_dated_in_the_century_before_today() -> None:
    born_2016 = specimens.personnummer(date(2016, 5, 1))  # ten digits: 160501...
    born_1926 = specimens.personnummer(date(1926, 11, 1))  # 261101 would be a future date in 2026

    assert _codes("SE", born_2016) == {"id_number": "too_young"}
    assert _codes("SE", born_1926) == {}


def test_swedish_centenarian_with_a_plus_is_dated_a_century_earlier() -> None:
    born_1920 = specimens.personnummer(date(1920, 5, 1))  # ten digits read as 2020 without the plus

    assert _codes("SE", born_1920) == {"id_number": "too_young"}
    assert _codes("SE", born_1920[:6] + "+" + born_1920[6:]) == {}


def _codes(code: str, number: str) -> dict[str, str]:
    return error_codes(check(code, valid_submission(code, id_number=number)))


def test_swedish_number_of_a_child_born_this_year_is_too_young_up_to_and_including_today() -> None:
    # TODAY is 15 October 2026: ten digits 261003... and 261015... are a child's (2026), not a centenarian's.
    born_this_month = specimens.personnummer(date(2026, 10, 3))
    born_today = specimens.personnummer(TODAY)

    assert _codes("SE", born_this_month) == {"id_number": "too_young"}
    assert _codes("SE", born_today) == {"id_number": "too_young"}


def test_swede_turning_100_later_this_month_signs_with_a_hyphen() -> None:
    # Born 21 October 1926: 99 on TODAY, so no plus yet; 261021 would be a date six days ahead in 2026.
    assert _codes("SE", specimens.personnummer(date(1926, 10, 21))) == {}


def _belgian_number_with_unknown_day(year: int, month: int = 0, serial: str = "123") -> str:
    """A national register number of someone whose birth month and day (day 00) were not known."""
    payload = f"{year % 100:02d}{month:02d}00{serial}"
    base = int(("2" if year >= 2000 else "") + payload)
    return f"{payload}{97 - base % 97:02d}"


def test_belgian_number_stating_only_a_birth_year_too_recent_to_be_of_age_is_told_the_minimum_age() -> None:
    too_recent = TODAY.year - 15  # even born on its 1 January, 15 at most today
    number = _belgian_number_with_unknown_day(too_recent)

    assert error_codes(check("BE", valid_submission("BE", id_number=number))) == {"id_number": "too_young"}
    assert error_codes(check("BE", valid_submission("BE", id_number=_belgian_number_with_unknown_day(
        too_recent, month=TODAY.month)))) == {"id_number": "too_young"}


def test_belgian_number_stating_only_a_birth_year_that_may_be_of_age_signs() -> None:
    perhaps_sixteen = TODAY.year - 16  # sixteen today if born before today in that year

    assert error_codes(check("BE", valid_submission("BE", id_number=_belgian_number_with_unknown_day(
        perhaps_sixteen)))) == {}


def _hungarian(first_digit: str, birth: date) -> dict[str, str]:
    return valid_submission("HU", id_type="personal.number", id_number=f"{first_digit}{birth:%y%m%d}1234")


@pytest.mark.parametrize("first_digit", ["3", "4"])  # born in 2000 or later (a boy, a girl)
def test_hungarian_child_whose_personal_number_states_the_birth_date_is_told_the_minimum_age(first_digit: str) -> None:
    assert error_codes(check("HU", _hungarian(first_digit, date(2016, 5, 1)))) == {"id_number": "too_young"}
    assert error_codes(check("HU", _hungarian(first_digit, date(2030, 5, 1)))) == {"id_number": "date_in_future"}


@pytest.mark.parametrize(("first_digit", "birth"), [
    ("1", date(1985, 7, 30)), ("2", date(1916, 5, 1)),  # born in the 1900s
    ("3", TODAY.replace(year=TODAY.year - 18)),  # eighteen today
    ("5", date(1916, 5, 1)), ("7", date(1999, 1, 1)),  # settled or immigrated: the century is not stated
])
def test_hungarian_adult_or_number_without_a_stated_century_signs(first_digit: str, birth: date) -> None:
    assert error_codes(check("HU", _hungarian(first_digit, birth))) == {}
