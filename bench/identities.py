"""Distinct, valid, made-up statements of support: every index gives another person.

Three in four are Poles (Part B: a PESEL with a correct check digit), one in four Germans (Part A:
names, address and date of birth). Nothing here is printed: the figures carry no personal data.
"""

from __future__ import annotations

from datetime import date, timedelta

from tests.unit.specimens import pesel

# Inside the demo initiative's collection period, so every form is open.
SIGNING_DAY = date(2026, 11, 27)
LANGUAGE = "en"

_PESEL_SERIALS = 10_000  # four serial digits per birth date
_GERMAN_BIRTH_DAYS = 20_000  # birth dates from 1940 on, all adults on SIGNING_DAY


def submission(index: int) -> tuple[str, dict[str, str]]:
    """(Member State code, form fields) of person number `index`; no two indexes are the same person."""
    if index % 4 == 3:
        return "DE", _german(index // 4)
    return "PL", _pole(index)


def _pole(number: int) -> dict[str, str]:
    birth = date(1950, 1, 1) + timedelta(days=number // _PESEL_SERIALS)
    return {
        "full_first_names": "Ewa Maria",
        "family_names": "Próbna",
        "id_number": pesel(birth, serial=f"{number % _PESEL_SERIALS:04d}"),
        "privacy_accepted": "yes",
    }


def _german(number: int) -> dict[str, str]:
    # The identity of a Part A statement is names, birth date and postcode: vary the last two.
    birth = date(1940, 1, 1) + timedelta(days=number % _GERMAN_BIRTH_DAYS)
    return {
        "full_first_names": "Erika",
        "family_names": "Mustermann",
        "street": "Beispielweg",
        "street_number": "1",
        "postal_code": f"{10115 + number // _GERMAN_BIRTH_DAYS:05d}",
        "city": "Berlin",
        "country": "DE",
        "date_of_birth_day": str(birth.day),
        "date_of_birth_month": str(birth.month),
        "date_of_birth_year": str(birth.year),
        "privacy_accepted": "yes",
    }
