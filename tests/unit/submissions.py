"""Valid statement-of-support submissions for every Member State's form, to vary one field at a time."""

from __future__ import annotations

from datetime import date

from chalicelib.rules.member_states import MemberState, member_state
from chalicelib.signing.form import FormSpec, form_spec
from chalicelib.signing.validate import ValidationResult, validate
from chalicelib.web.i18n import country_names
from tests.unit import specimens

TODAY = date(2026, 10, 15)
ADULT_BIRTH = date(1985, 7, 30)
MINOR_BIRTH = date(2012, 3, 15)  # 14 on TODAY: too young in every State

# The list the form offers (Babel's territories), as the route passes it to the validator.
RESIDENCE_COUNTRIES = frozenset(code for code, _ in country_names("en"))

# One specimen per accepted document, first document first: (State, type) -> number.
VALID_ID_NUMBERS: dict[tuple[str, str], str] = {
    ("BE", "national.id.number"): specimens.belgian_national_number(ADULT_BIRTH),
    ("BG", "personal.number"): specimens.egn(ADULT_BIRTH),
    ("CZ", "id.card"): "123456789",
    ("CZ", "passport"): "12345678",
    ("EE", "personal.number"): specimens.baltic_personal_code(ADULT_BIRTH),
    ("ES", "id.card"): specimens.dni("12345678"),
    ("ES", "passport"): "PAA123456",
    ("HR", "personal.id"): specimens.oib("6951219740"),
    ("IT", "passport"): "YA1234567",
    ("IT", "id.card"): "CA00000AA",
    ("CY", "id.card"): "1234567",
    ("CY", "passport"): "K12345678",
    ("LV", "personal.id"): specimens.latvian_personal_code_old(ADULT_BIRTH),
    ("LT", "personal.number"): specimens.baltic_personal_code(ADULT_BIRTH),
    ("HU", "id.card"): "123456AB",
    ("HU", "passport"): "AB1234567",
    ("HU", "personal.number"): "18507301234",
    ("MT", "id.card"): "1234567M",
    ("AT", "passport"): "P1234567",
    ("AT", "id.card"): "1234567",
    ("PL", "national.id.number"): specimens.pesel(ADULT_BIRTH),
    ("PT", "id.card"): "12345678",
    ("PT", "passport"): "AB123456",
    ("PT", "citizens.card"): specimens.portuguese_citizen_card("12345678"),
    ("RO", "id.card"): "AB123456",
    ("RO", "passport"): "12345678",
    ("RO", "personal.id"): specimens.cnp(ADULT_BIRTH),
    ("SI", "personal.number"): specimens.emso(ADULT_BIRTH),
    ("SE", "personal.number"): specimens.personnummer(ADULT_BIRTH),
}

# A postal code of the right shape, as people type it, for each Member State as country of residence.
VALID_POSTCODES: dict[str, str] = {
    "BE": "1000", "BG": "1000", "CZ": "110 00", "DK": "1050", "DE": "10115", "EE": "10111",
    "IE": "D02 X285", "GR": "105 57", "ES": "28013", "FR": "75001", "HR": "10000", "IT": "00184",
    "CY": "1010", "LV": "LV-1050", "LT": "LT-01100", "LU": "L-1009", "HU": "1051", "MT": "VLT 1117",
    "NL": "1234 AB", "AT": "1010", "PL": "00-950", "PT": "1000-001", "RO": "010011", "SI": "1000",
    "SK": "811 01", "FI": "00100", "SE": "114 55",
}

PART_A_CODES = ("DK", "DE", "IE", "EL", "FR", "LU", "NL", "SK", "FI")
PART_B_CODES = ("BE", "BG", "CZ", "EE", "ES", "HR", "IT", "CY", "LV", "LT", "HU", "MT", "AT", "PL", "PT", "RO",
                "SI", "SE")


def state(code: str) -> MemberState:
    found = member_state(code)
    assert found is not None, code
    return found


def spec(code: str) -> FormSpec:
    return form_spec(state(code))


def date_parts(birth: date) -> dict[str, str]:
    return {"date_of_birth_day": str(birth.day), "date_of_birth_month": str(birth.month),
            "date_of_birth_year": str(birth.year)}


def valid_submission(code: str, **overrides: str) -> dict[str, str]:
    """What a citizen of State `code`, living there, types into a correct form; then `overrides`."""
    ms = state(code)
    submitted = {"full_first_names": "Anna Maria", "family_names": "Schmidt", "privacy_accepted": "yes"}
    if ms.annex_iii_part == "A":
        submitted |= {"street": "Hauptstraße", "street_number": "12a", "city": "Musterstadt",
                      "country": ms.iso_code, "postal_code": VALID_POSTCODES[ms.iso_code],
                      **date_parts(ADULT_BIRTH)}
    else:
        document = ms.id_documents[0]
        submitted |= {"id_type": document.type, "id_number": VALID_ID_NUMBERS[(code, document.type)]}
    submitted.update(overrides)
    return submitted


def check(code: str, submitted: dict[str, str], today: date = TODAY) -> ValidationResult:
    return validate(spec(code), submitted, today, RESIDENCE_COUNTRIES)


def error_codes(result: ValidationResult) -> dict[str, str]:
    """field -> error code (one error per field at most)."""
    codes = {error.field: error.code for error in result.errors}
    assert len(codes) == len(result.errors), result.errors
    return codes
