"""Validation of a submitted statement-of-support form: pure, no I/O.

It returns every problem at once, each tied to its field, so the page can show each message next
to the field it concerns and keep what the citizen typed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date

from chalicelib.rules.member_states import MemberState
from chalicelib.signing.form import FORMAT_CONFIRMED, PRIVACY_ACCEPTED, FormField, FormSpec
from chalicelib.signing.id_numbers import (
    Check,
    birth_date_in,
    canonical_id_number,
    canonical_postcode,
    check_id_number,
    check_postcode,
    has_code_characters,
    is_possible_postcode,
)
from chalicelib.signing.statement import PersonalData

OLDEST_BIRTH_YEAR = 1900

# Letters of the EU's three scripts (Latin with its diacritics, Greek, Cyrillic) and combining marks.
_EU_SCRIPT_RANGES = (
    (0x0041, 0x024F),  # Basic Latin letters .. Latin Extended-B
    (0x0300, 0x036F),  # combining diacritical marks (names typed in decomposed form)
    (0x0370, 0x03FF),  # Greek
    (0x0400, 0x052F),  # Cyrillic and Cyrillic Supplement
    (0x1E00, 0x1FFF),  # Latin Extended Additional, Greek Extended
)
# The full stop of "St. John" and the Catalan middle dot of "Sol·la" belong to real names.
_NAME_PUNCTUATION = frozenset("'’ʼ-‐ .·")
_TEXT_PUNCTUATION = frozenset(" '’ʼ-‐.,/()&#°ºª\"·")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class FieldError:
    """One problem with one field. `code` selects the message; `params` fill its placeholders."""

    field: str
    code: str
    params: Mapping[str, str | int] = dataclass_field(default_factory=dict)
    confirmable: bool = False  # a format-only mismatch the citizen may confirm as correct


@dataclass(frozen=True)
class ValidationResult:
    errors: tuple[FieldError, ...]
    personal_data: PersonalData | None  # set exactly when there are no errors

    @property
    def needs_format_confirmation(self) -> bool:
        return any(error.confirmable for error in self.errors)


def _in_eu_script(char: str) -> bool:
    point = ord(char)
    return any(low <= point <= high for low, high in _EU_SCRIPT_RANGES)


def normalise_text(value: str) -> str:
    """NFC, single spaces, no leading or trailing space: the form names are stored and compared in."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", value)).strip()


def _check_name(spec_field: FormField, value: str) -> FieldError | None:
    if len(value) > spec_field.max_length:
        return FieldError(spec_field.name, "too_long", {"max": spec_field.max_length})
    for char in value:
        letter = (char.isalpha() or unicodedata.category(char).startswith("M")) and _in_eu_script(char)
        if not letter and char not in _NAME_PUNCTUATION:
            return FieldError(spec_field.name, "name_characters")
    if not any(char.isalpha() for char in value):
        return FieldError(spec_field.name, "name_characters")
    return None


def _check_text(spec_field: FormField, value: str) -> FieldError | None:
    if len(value) > spec_field.max_length:
        return FieldError(spec_field.name, "too_long", {"max": spec_field.max_length})
    for char in value:
        allowed = (char.isalnum() and _in_eu_script(char)) or char.isdigit() or char in _TEXT_PUNCTUATION
        if not allowed and not unicodedata.category(char).startswith("M"):
            return FieldError(spec_field.name, "text_characters")
    return None


def _parse_date(name: str, parts: Mapping[str, str], today: date) -> tuple[date | None, FieldError | None]:
    day, month, year = (parts[f"{name}_{part}"].strip() for part in ("day", "month", "year"))
    # ASCII digits of the lengths dates have: int() would take other scripts' digits and any length.
    if not (_is_number(day, 2) and _is_number(month, 2) and _is_number(year, 4)) or len(year) != 4:
        return None, FieldError(name, "date_invalid")
    try:
        value = date(int(year), int(month), int(day))
    except ValueError:
        return None, FieldError(name, "date_invalid")
    if value > today:
        return None, FieldError(name, "date_in_future")
    if value.year < OLDEST_BIRTH_YEAR:
        return None, FieldError(name, "date_invalid")
    return value, None


def _is_number(text: str, max_digits: int) -> bool:
    return 0 < len(text) <= max_digits and text.isascii() and text.isdigit()


def _birth_date_error(field_name: str, state: MemberState, birth: date, today: date) -> FieldError | None:
    """The same refusal for a birth date typed (Part A) or read from the number (Part B)."""
    if birth > today:
        return FieldError(field_name, "date_in_future")
    if not age_reached(state, birth, today):
        return FieldError(field_name, "too_young", {"age": state.min_age})
    return None


def age_reached(state: MemberState, birth: date, today: date) -> bool:
    """Whether a person born on `birth` is old enough to sign for `state` on `today`."""
    if state.age_rule == "reached_in_calendar_year":
        # Greece: valid if the minimum age is reached at any time during the current year.
        return today.year - birth.year >= state.min_age
    had_birthday = (today.month, today.day) >= (birth.month, birth.day)
    return today.year - birth.year - (0 if had_birthday else 1) >= state.min_age


def validate(
    spec: FormSpec,
    submitted: Mapping[str, str],
    today: date,
    residence_countries: frozenset[str],
) -> ValidationResult:
    """Check a submission against its form. `submitted` maps input names to values (missing = empty).

    `residence_countries` holds the ISO codes a citizen may pick as country of residence.
    """
    state = spec.member_state
    values = {name: submitted.get(name, "") for name in spec.input_names}
    errors: list[FieldError] = []
    cleaned: dict[str, str] = {}
    birth: date | None = None
    residence = normalise_text(values.get("country", "")).upper()

    for spec_field in spec.fields:
        if spec_field.kind == "date":
            if all(not values[name].strip() for name in spec_field.input_names):
                errors.append(FieldError(spec_field.name, "required"))
                continue
            birth, error = _parse_date(spec_field.name, values, today)
            if birth and not error:
                error = _birth_date_error(spec_field.name, state, birth, today)
            if error:
                errors.append(error)
            continue
        value = normalise_text(values[spec_field.name])
        if spec_field.kind == "id_type" and not spec.chooses_id_type:
            value = state.id_documents[0].type  # the only accepted document: nothing to choose
        if not value:
            errors.append(FieldError(spec_field.name, "required"))
            continue
        error, value = _check_field(spec, spec_field, value, residence_countries, residence, cleaned, today)
        if error:
            errors.append(error)
        cleaned[spec_field.name] = value

    if submitted.get(PRIVACY_ACCEPTED, "") != "yes":
        errors.append(FieldError(PRIVACY_ACCEPTED, "privacy_not_accepted"))

    if submitted.get(FORMAT_CONFIRMED, "") == "yes" and all(e.confirmable for e in errors):
        errors = []  # the citizen confirmed that the unusual format is correct
    if errors:
        return ValidationResult(tuple(errors), None)
    return ValidationResult((), _personal_data(spec, cleaned, birth))


def _check_field(
    spec: FormSpec,
    spec_field: FormField,
    value: str,
    residence_countries: frozenset[str],
    residence: str,
    cleaned: dict[str, str],
    today: date,
) -> tuple[FieldError | None, str]:
    """The field's error, if any, and its value in the canonical spelling it is stored in."""
    state = spec.member_state
    if spec_field.kind == "name":
        return _check_name(spec_field, value), value
    if spec_field.kind == "text":
        return _check_text(spec_field, value), value
    if spec_field.kind == "country":
        known = value.upper() in residence_countries
        return (None if known else FieldError(spec_field.name, "unknown_option")), value.upper()
    if spec_field.kind == "id_type":
        return (None if state.id_document(value) else FieldError(spec_field.name, "unknown_option")), value
    if len(value) > spec_field.max_length:
        return FieldError(spec_field.name, "too_long", {"max": spec_field.max_length}), value
    if spec_field.kind == "postcode":
        postcode = canonical_postcode(residence, value)
        # The box confirms an unusual format, never unusual characters or a length no postal code has.
        if not is_possible_postcode(postcode):
            return FieldError(spec_field.name, "postcode_characters"), value
        if check_postcode(residence, postcode) is Check.FORMAT_MISMATCH:
            return FieldError(spec_field.name, "postcode_format", confirmable=True), postcode
        return None, postcode
    if spec_field.kind == "id_number":
        document = state.id_document(cleaned.get("id_type", ""))
        if document is None:
            return None, value  # the type itself is wrong; that error stands next to the type
        number = canonical_id_number(document, value, today)
        if not has_code_characters(number):
            return FieldError(spec_field.name, "id_characters"), value
        outcome = check_id_number(document, number)
        if outcome is Check.INVALID:
            return FieldError(spec_field.name, "id_invalid"), number
        if outcome is Check.FORMAT_MISMATCH:
            return FieldError(spec_field.name, "id_format", confirmable=True), number
        birth = birth_date_in(document, number)
        return (_birth_date_error(spec_field.name, state, birth, today) if birth else None), number
    raise ValueError(f"unknown field kind {spec_field.kind}")


def _personal_data(spec: FormSpec, cleaned: Mapping[str, str], birth: date | None) -> PersonalData:
    state = spec.member_state
    if state.annex_iii_part == "B":
        return PersonalData(
            member_state=state.code,
            full_first_names=cleaned["full_first_names"],
            family_names=cleaned["family_names"],
            id_type=cleaned["id_type"],
            id_number=cleaned["id_number"],
        )
    return PersonalData(
        member_state=state.code,
        full_first_names=cleaned["full_first_names"],
        family_names=cleaned["family_names"],
        street=cleaned["street"],
        street_number=cleaned["street_number"],
        postal_code=cleaned["postal_code"],
        city=cleaned["city"],
        country=cleaned["country"],
        date_of_birth=birth,
    )
