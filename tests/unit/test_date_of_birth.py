"""The date of birth, typed as day, month and year: which dates a citizen is told do not exist."""

from __future__ import annotations

from datetime import date

import pytest

from tests.unit.submissions import TODAY, check, error_codes, valid_submission


def _errors_for_date(day: str, month: str, year: str, code: str = "DE") -> dict[str, str]:
    submitted = valid_submission(code, date_of_birth_day=day, date_of_birth_month=month, date_of_birth_year=year)
    return error_codes(check(code, submitted))


@pytest.mark.parametrize(("day", "month", "year", "expected"), [
    ("31", "4", "1990", "date_invalid"),
    ("29", "2", "1990", "date_invalid"),
    ("30", "2", "1992", "date_invalid"),
    ("0", "5", "1990", "date_invalid"),
    ("12", "13", "1990", "date_invalid"),
    ("12", "0", "1990", "date_invalid"),
    ("ab", "5", "1990", "date_invalid"),
    ("12", "May", "1990", "date_invalid"),
    ("12", "5", "19x0", "date_invalid"),
    ("12", "5", "-990", "date_invalid"),
    ("1.5", "5", "1990", "date_invalid"),
    ("12", "5", "90", "date_invalid"),
    ("12", "5", "01990", "date_invalid"),
    ("12", "005", "1990", "date_invalid"),
    ("12", "5", "1899", "date_invalid"),
    ("12", "5", "", "date_invalid"),
    ("", "", "1990", "date_invalid"),
    (str(TODAY.day + 1), str(TODAY.month), str(TODAY.year), "date_in_future"),
    ("1", "1", str(TODAY.year + 1), "date_in_future"),
], ids=["31-april", "29-feb-common-year", "30-feb", "day-0", "month-13", "month-0", "letters-in-day",
        "month-name", "letters-in-year", "negative-year", "decimal-day", "two-digit-year", "five-digit-year",
        "three-digit-month",
        "before-1900", "year-missing", "only-year", "tomorrow", "next-year"])
def test_citizen_typing_a_date_that_does_not_exist_sees_a_date_error(day: str, month: str, year: str,
                                                                     expected: str) -> None:
    assert _errors_for_date(day, month, year) == {"date_of_birth": expected}


@pytest.mark.parametrize(("day", "month", "year"), [
    ("29", "2", "2000"), ("31", "12", "1990"), ("01", "01", "1950"), (" 7 ", " 3 ", " 1980 "), ("1", "1", "1900"),
], ids=["29-feb-leap-year", "new-years-eve", "leading-zeros", "surrounding-spaces", "oldest-year"])
def test_citizen_typing_a_real_date_of_birth_is_accepted(day: str, month: str, year: str) -> None:
    result = check("DE", valid_submission("DE", date_of_birth_day=day, date_of_birth_month=month,
                                          date_of_birth_year=year))

    assert result.errors == ()
    assert result.personal_data is not None
    assert result.personal_data.date_of_birth == date(int(year), int(month), int(day))


@pytest.mark.parametrize(("day", "month", "year"), [("", "", ""), ("  ", " ", "")], ids=["empty", "spaces"])
def test_citizen_leaving_the_whole_date_of_birth_empty_sees_required(day: str, month: str, year: str) -> None:
    assert _errors_for_date(day, month, year) == {"date_of_birth": "required"}


def test_citizen_born_today_is_not_told_the_date_is_in_the_future_but_too_young() -> None:
    errors = _errors_for_date(str(TODAY.day), str(TODAY.month), str(TODAY.year))

    assert errors == {"date_of_birth": "too_young"}


def test_date_error_is_not_cleared_by_confirming_the_format() -> None:
    submitted = valid_submission("FR", date_of_birth_day="31", date_of_birth_month="4", format_confirmed="yes")

    result = check("FR", submitted)

    assert error_codes(result) == {"date_of_birth": "date_invalid"}
    assert not result.needs_format_confirmation
