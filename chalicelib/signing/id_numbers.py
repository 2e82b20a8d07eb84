"""Checks of personal identification numbers and postal codes, as the Commission's software made them.

Three outcomes: the value is fine; its format is unusual (the citizen may confirm it is correct);
or it cannot be right (a failed check digit, a date inside the number that does not exist).
Check digits are python-stdnum's; formats and canonical spellings are the rules data's.

Every number and postal code is brought to one canonical spelling before it is checked, stored,
exported or fingerprinted, so that one person's number typed two ways is one person's number.
"""

from __future__ import annotations

import importlib
import re
import unicodedata
from datetime import date
from enum import Enum
from types import ModuleType

from chalicelib.rules.member_states import IdDocument, member_state

# Separators people type inside numbers and postal codes; the authorities compare without them.
# The plus is the Swedish separator of people aged 100 or more (read before it is removed).
_SEPARATORS = re.compile(r"[\s.\-/+]+")
# What a number or postal code holds once compacted, whatever the format box says.
_CODE_CHARACTERS = re.compile("[A-Z0-9]+")
_LEADING_DIGITS = re.compile("[0-9]+(?=[A-Z]*$)")  # the digits of a number that ends in letters only, if any
POSTCODE_MIN_LENGTH = 3  # the shortest postal codes in use (Iceland, the Faroe Islands) have three digits
POSTCODE_MAX_LENGTH = 10

# Numbers that state no reliable birth date although their document's usually does (see the rules
# data's notes): Latvian codes from July 2017, Lithuanian exceptional codes, Romanian CNPs of residents
# who are not citizens (their century is not stated).
_NO_BIRTH_DATE_PREFIXES = {"lv.pvn": ("32",), "lt.asmens": ("9",), "ro.cnp": ("7", "8", "9")}


class Check(Enum):
    OK = "ok"
    FORMAT_MISMATCH = "format_mismatch"  # confirmable by the citizen
    INVALID = "invalid"  # never acceptable


def compact(value: str) -> str:
    """The number as authorities compare it: compatibility-normalised (full-width digits are digits),
    upper case, without spaces, dots, hyphens, slashes or plus signs."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", value)).upper()


def has_code_characters(compacted: str) -> bool:
    """Whether a compacted number or postal code holds only the characters such codes have (A-Z, 0-9)."""
    return _CODE_CHARACTERS.fullmatch(compacted) is not None


def _stdnum(module_name: str) -> ModuleType:
    # Imported on first use: stdnum modules are cheap one by one, dear all together.
    return importlib.import_module(f"stdnum.{module_name}")


def canonical_id_number(document: IdDocument, typed: str, today: date) -> str:
    """The one spelling of a number as it is stored: compacted, without the State's country code typed
    before it, with the leading zeros its card prints, and (Sweden) with the century. `typed` is the
    number as the citizen typed it."""
    number = _without_prefix(compact(typed), document.country_prefixes, document.format)
    digits = _LEADING_DIGITS.match(number)
    if document.zero_padded_to and digits and len(digits.group()) < document.zero_padded_to:
        number = number.zfill(len(number) - len(digits.group()) + document.zero_padded_to)
    if document.four_digit_year and len(number) == 10 and number.isdigit():
        number = _with_century(number, today, aged_100_or_more="+" in typed)
    return number


def _without_prefix(code: str, prefixes: tuple[str, ...], pattern: re.Pattern[str] | None) -> str:
    """`code` without a country prefix typed before it, where it fits `pattern` only without it."""
    if pattern is None or pattern.fullmatch(code) is not None:
        return code
    for prefix in prefixes:
        rest = code[len(prefix):]
        if code.startswith(prefix) and pattern.fullmatch(rest) is not None:
            return rest
    return code


def _with_century(number: str, today: date, aged_100_or_more: bool) -> str:
    """YYMMDDNNNC as YYYYMMDDNNNC: the latest century that puts the birth date on or before today."""
    year = today.year // 100 * 100 + int(number[:2])
    if (year, int(number[2:4]), int(number[4:6])) > (today.year, today.month, today.day):
        year -= 100
    if aged_100_or_more:
        year -= 100
    return f"{year:04d}{number[2:]}"


def check_id_number(document: IdDocument, number: str) -> Check:
    """Check a canonical number against its document's check digits and format."""
    if document.checksum:
        from stdnum.exceptions import InvalidChecksum, InvalidComponent, ValidationError

        try:
            _stdnum(document.checksum).validate(number)
        except (InvalidChecksum, InvalidComponent):
            return Check.INVALID
        except ValidationError:
            return Check.FORMAT_MISMATCH  # wrong length or characters: the format rule decides below
    if document.format.fullmatch(number) is None:
        return Check.FORMAT_MISMATCH
    return Check.OK


def birth_date_in(document: IdDocument, number: str) -> date | None:
    """The birth date a valid canonical number states, or None where it states none reliably.

    Where it states only the year, or the year and month (a Belgian number of someone whose birth
    day was not known), the first day it allows: whoever is too young even if born that day is.
    """
    module = document.birth_date
    if module is None or number.startswith(_NO_BIRTH_DATE_PREFIXES.get(module, ())):
        return None
    from stdnum.exceptions import ValidationError

    if module == HUNGARIAN_PERSONAL_NUMBER:
        return _hungarian_birth_date(number)
    reader = _stdnum(module)
    try:
        found = reader.get_birth_date(number)
        if found is None and hasattr(reader, "get_birth_year"):
            year, month = reader.get_birth_year(number), reader.get_birth_month(number)
            found = date(year, month or 1, 1) if year else None
    except (ValidationError, ValueError):
        return None
    return found if isinstance(found, date) else None


# The Hungarian személyi azonosító states the birth date (1996. évi XX. törvény, 3. melléklet: digit 1
# citizenship, century and sex, digits 2-7 YYMMDD) and python-stdnum has no module for it. The first
# digit states the century for citizens only: 1 and 2 born in the 1900s, 3 and 4 from 1 January 2000;
# 5 to 8 were given to people who settled or immigrated, and their century is not read here.
HUNGARIAN_PERSONAL_NUMBER = "hu.personal_number"
_HUNGARIAN_CENTURIES = {"1": 1900, "2": 1900, "3": 2000, "4": 2000}


def _hungarian_birth_date(number: str) -> date | None:
    century = _HUNGARIAN_CENTURIES.get(number[:1])
    if century is None or len(number) != 11 or not number.isdigit():
        return None
    try:
        return date(century + int(number[1:3]), int(number[3:5]), int(number[5:7]))
    except ValueError:
        return None


def canonical_postcode(residence_iso_code: str, typed: str) -> str:
    """The one spelling of a postal code as it is stored: compacted, without a country prefix typed before it."""
    postcode = compact(typed)
    state = member_state(residence_iso_code)
    return _without_prefix(postcode, state.postcode_prefixes, state.postcode_format) if state else postcode


def postcode_as_written(residence_iso_code: str, postcode: str) -> str:
    """A canonical postal code as the residence country's post writes it ("00950" -> "00-950" in Poland),
    for the authorities' exports; unchanged where no way of writing is known or the code is not of the
    country's format (a citizen confirmed an unusual one)."""
    state = member_state(residence_iso_code)
    if state is None or state.postcode_written is None or state.postcode_format is None:
        return postcode
    if state.postcode_format.fullmatch(postcode) is None or state.postcode_written.count("#") != len(postcode):
        return postcode
    characters = iter(postcode)
    return "".join(next(characters) if mark == "#" else mark for mark in state.postcode_written)


def is_possible_postcode(postcode: str) -> bool:
    """Whether a canonical postal code could be one anywhere: letters and digits, at least one digit."""
    return (POSTCODE_MIN_LENGTH <= len(postcode) <= POSTCODE_MAX_LENGTH and has_code_characters(postcode)
            and any(char.isdigit() for char in postcode))


def check_postcode(residence_iso_code: str, postcode: str) -> Check:
    """Check a canonical postal code against the format of the residence country, where one is known."""
    state = member_state(residence_iso_code)
    if state is None or state.postcode_format is None:
        return Check.OK  # outside the EU, or no national format: only length limits apply
    if state.postcode_format.fullmatch(postcode) is None:
        return Check.FORMAT_MISMATCH
    return Check.OK
