"""Specimen personal numbers with check digits computed here, from each authority's published rule.

Written independently of python-stdnum on purpose: the tests then check that the validator (which
uses stdnum) and these rules agree, rather than stdnum against itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _weighted(digits: str, weights: Sequence[int | str]) -> int:
    return sum(int(d) * int(w) for d, w in zip(digits, weights, strict=False))


def luhn_check_digit(payload: str) -> str:
    total = 0
    for index, char in enumerate(reversed(payload)):
        value = int(char) * (2 if index % 2 == 0 else 1)  # the check digit will sit to the right
        total += value - 9 if value > 9 else value
    return str((10 - total % 10) % 10)


def flip_last(number: str) -> str:
    """The same number with its last (check) digit changed: a typing error the checksum must catch."""
    return number[:-1] + str((int(number[-1]) + 1) % 10)


def pesel(birth: date, serial: str = "1234") -> str:
    """Polish PESEL: YYMMDD (month + 20 for 2000-2099) + 4 serial digits + check digit."""
    month = birth.month + (20 if birth.year >= 2000 else 0)
    return with_pesel_check_digit(f"{birth:%y}{month:02d}{birth:%d}{serial}")


def with_pesel_check_digit(payload: str) -> str:
    """Any 10 digits completed with the PESEL check digit (even if the date inside does not exist)."""
    return payload + str((10 - _weighted(payload, (1, 3, 7, 9, 1, 3, 7, 9, 1, 3)) % 10) % 10)


def egn(birth: date, serial: str = "123") -> str:
    """Bulgarian EGN: YYMMDD (month + 40 for 2000-2099) + 3 region/serial digits + check digit."""
    month = birth.month + (40 if birth.year >= 2000 else 0)
    payload = f"{birth:%y}{month:02d}{birth:%d}{serial}"
    return payload + str(_weighted(payload, (2, 4, 8, 5, 10, 9, 7, 3, 6)) % 11 % 10)


def _baltic_check_digit(payload: str) -> str:
    """Estonian isikukood and Lithuanian asmens kodas share this two-pass modulo 11 rule."""
    remainder = _weighted(payload, (1, 2, 3, 4, 5, 6, 7, 8, 9, 1)) % 11
    if remainder == 10:
        remainder = _weighted(payload, (3, 4, 5, 6, 7, 8, 9, 1, 2, 3)) % 11 % 10
    return str(remainder)


def baltic_personal_code(birth: date, male: bool = True, serial: str = "123") -> str:
    """Isikukood / asmens kodas: century-and-sex digit + YYMMDD + 3 serial digits + check digit."""
    century_digit = {1800: 1, 1900: 3, 2000: 5}[birth.year // 100 * 100] + (0 if male else 1)
    payload = f"{century_digit}{birth:%y%m%d}{serial}"
    return payload + _baltic_check_digit(payload)


def oib(payload: str = "6951219740") -> str:
    """Croatian OIB: 10 digits + ISO 7064 MOD 11,10 check digit."""
    product = 10
    for char in payload:
        total = (product + int(char)) % 10 or 10
        product = total * 2 % 11
    return payload + str((11 - product) % 10)


def cnp(birth: date, male: bool = True, county: str = "40", serial: str = "123") -> str:
    """Romanian CNP: sex/century digit + YYMMDD + county + 3 serial digits + check digit."""
    sex_digit = (1 if male else 2) + (4 if birth.year >= 2000 else 0)
    payload = f"{sex_digit}{birth:%y%m%d}{county}{serial}"
    check = _weighted(payload, "279146358279") % 11
    return payload + ("1" if check == 10 else str(check))


def emso(birth: date, region: str = "50", serial: str = "123") -> str:
    """Slovenian EMSO: DDMM + last 3 digits of the year + region (50 = Slovenia) + serial + check digit."""
    payload = f"{birth:%d%m}{birth.year % 1000:03d}{region}{serial}"
    check = 11 - _weighted(payload, (7, 6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2)) % 11
    if check == 10:
        raise ValueError("no EMSO is issued with this serial: pick another")
    return payload + str(check % 11)


def personnummer(birth: date, serial: str = "123", full_year: bool = False) -> str:
    """Swedish personnummer: (YY)YYMMDD + 3 serial digits + Luhn check digit over the 10-digit form."""
    short = f"{birth:%y%m%d}{serial}"
    number = short + luhn_check_digit(short)
    return f"{birth.year // 100}{number}" if full_year else number


def belgian_national_number(birth: date, serial: str = "123") -> str:
    """Rijksregisternummer: YYMMDD + 3 serial digits + 97-modulus check (a '2' is prefixed for 2000+)."""
    payload = f"{birth:%y%m%d}{serial}"
    base = int(("2" if birth.year >= 2000 else "") + payload)
    return f"{payload}{97 - base % 97:02d}"


def dni(number: str = "12345678") -> str:
    """Spanish DNI: 8 digits + the letter their value modulo 23 selects."""
    return number + "TRWAGMYFPDXBNJZSQVHLCKE"[int(number) % 23]


def portuguese_citizen_card(civil_number: str = "12345678", version: str = "ZZ") -> str:
    """Cartão de Cidadão: civil id number + its mod-11 digit + 2-character version + Luhn-like check."""
    civil_check = 11 - _weighted(civil_number, (9, 8, 7, 6, 5, 4, 3, 2)) % 11
    payload = f"{civil_number}{0 if civil_check >= 10 else civil_check}{version}"
    total = 0
    for index, char in enumerate(reversed(payload)):
        value = _BASE36.index(char)
        if index % 2 == 0:  # the check character will sit to the right: these positions are doubled
            value *= 2
            value = value - 9 if value > 9 else value
        total += value
    return payload + str((10 - total % 10) % 10)


def _latvian_check_digit(payload: str) -> str:
    # The State Revenue Service's rule: (1101 - weighted sum) mod 11; 10 is never issued.
    check = (1101 - _weighted(payload, (1, 6, 3, 7, 9, 10, 5, 8, 4, 2))) % 11
    if check == 10:
        raise ValueError("no personas kods is issued with this serial: pick another")
    return str(check)


def latvian_personal_code_old(birth: date, serial: str = "234") -> str:
    """Personas kods until 2017: DDMMYY + century digit (0 = 1800s, 1 = 1900s, 2 = 2000s) + serial + check."""
    payload = f"{birth:%d%m%y}{birth.year // 100 - 18}{serial}"
    return payload + _latvian_check_digit(payload)


def latvian_personal_code_new(serial: str = "12345678") -> str:
    """Personas kods from July 2017: '32' + 8 digits + check digit; no date of birth inside."""
    payload = f"32{serial}"
    return payload + _latvian_check_digit(payload)
