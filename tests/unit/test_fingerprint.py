"""The duplicate marker: the same person signing twice gets the same fingerprint, nobody else does."""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import date

import pytest

from chalicelib.signing.fingerprint import fingerprint
from chalicelib.signing.statement import PersonalData
from tests.unit.submissions import check, date_parts, valid_submission

KEY = b"k" * 32
OTHER_KEY = b"j" * 32
INITIATIVE = "demo-2026"


def _fingerprint_of(code: str, key: bytes = KEY, initiative: str = INITIATIVE, **typed: str) -> str:
    result = check(code, valid_submission(code, **typed))
    assert result.personal_data is not None, result.errors
    return fingerprint(key, initiative, result.personal_data)


@pytest.mark.parametrize(("code", "variants"), [
    ("PL", ["85073012341", "850730 12341", "85-07-30-12341", "850.730.123.41", " 85073012341 "]),
    ("ES", ["12345678Z", "12345678z", "12.345.678-Z", "12345678 z"]),
    ("PT", ["123456789ZZ1", "12345678 9 zz1", "123456789-ZZ-1"]),
    ("BE", ["85073012335", "85.07.30-123.35", "85 07 30 123 35"]),
])
def test_citizen_signing_twice_with_the_number_typed_differently_gets_the_same_fingerprint(
        code: str, variants: list[str]) -> None:
    id_type = {"PT": "citizens.card"}.get(code)
    extra = {"id_type": id_type} if id_type else {}
    fingerprints = {_fingerprint_of(code, id_number=variant, **extra) for variant in variants}

    assert len(fingerprints) == 1


def test_citizen_signing_twice_with_different_name_spelling_is_still_one_person_in_part_b() -> None:
    # Part B identity is the document: names do not enter it.
    assert _fingerprint_of("PL", family_names="Kowalski") == _fingerprint_of("PL", family_names="Kowalsky")


def test_two_citizens_with_different_numbers_get_different_fingerprints() -> None:
    assert _fingerprint_of("ES", id_number="12345678Z") != _fingerprint_of("ES", id_number="87654321X")


@pytest.mark.parametrize(("first", "second", "number"), [
    ("AT", "ES", "P1234567"), ("IT", "HU", "AB1234567"), ("CY", "RO", "K12345678"),
])
def test_citizens_of_two_states_with_the_same_passport_number_are_two_signatories(
        first: str, second: str, number: str) -> None:
    # Passport numbers are unique only within the issuing State: a fingerprint without the State would
    # make the second citizen a silent "duplicate", neither stored nor counted.
    assert (_fingerprint_of(first, id_type="passport", id_number=number)
            != _fingerprint_of(second, id_type="passport", id_number=number))


def test_same_number_under_two_document_types_gives_different_fingerprints() -> None:
    assert (_fingerprint_of("RO", id_type="passport", id_number="AB123456")
            != _fingerprint_of("RO", id_type="id.card", id_number="AB123456"))


def test_same_person_gets_a_different_fingerprint_for_each_initiative() -> None:
    assert _fingerprint_of("PL", initiative="demo-2026") != _fingerprint_of("PL", initiative="other-2026")


def test_fingerprints_made_with_different_keys_differ() -> None:
    assert _fingerprint_of("PL", key=KEY) != _fingerprint_of("PL", key=OTHER_KEY)


def test_fingerprint_is_a_hex_sha256_and_does_not_contain_the_number() -> None:
    value = _fingerprint_of("PL")

    assert re.fullmatch("[0-9a-f]{64}", value), value
    assert "85073012341" not in value


@pytest.mark.parametrize("changes", [
    {"city": "Muenchen"},
    {"city": "MÜNCHEN"},
    {"street": "Hauptstr."},
    {"street_number": "12 A"},
    {"full_first_names": "ANNA  MARIA"},
    {"family_names": "schmidt"},
    {"postal_code": " 10115 "},
], ids=["city-spelling", "city-case", "street-abbreviated", "house-number", "first-names-case-and-spaces",
        "family-name-case", "postcode-spaces"])
def test_part_a_citizen_signing_twice_with_another_address_spelling_is_still_one_person(
        changes: dict[str, str]) -> None:
    first = _fingerprint_of("DE", city="München", postal_code="10115")
    second = _fingerprint_of("DE", **({"city": "München", "postal_code": "10115"} | changes))

    assert first == second


@pytest.mark.parametrize(("first", "second"), [("1000-001", "1000001"), ("1000 001", "1000-001")])
def test_part_a_citizen_typing_the_postcode_with_or_without_its_hyphen_is_still_one_person(
        first: str, second: str) -> None:
    assert (_fingerprint_of("FR", country="PT", postal_code=first)
            == _fingerprint_of("FR", country="PT", postal_code=second))


@pytest.mark.parametrize("changes", [
    {"postal_code": "10117"},
    {"country": "AT", "postal_code": "10115"},
    {"family_names": "Schmitt"},
    {"full_first_names": "Anna"},
    date_parts(date(1985, 7, 31)),
], ids=["other-postcode", "other-country", "other-family-name", "other-first-names", "other-birth-date"])
def test_part_a_namesakes_differing_in_an_identity_field_get_different_fingerprints(changes: dict[str, str]) -> None:
    first = _fingerprint_of("DE", postal_code="10115", format_confirmed="yes")
    second = _fingerprint_of("DE", **({"postal_code": "10115", "format_confirmed": "yes"} | changes))

    assert first != second


def test_same_identity_under_two_states_of_nationality_gives_different_fingerprints() -> None:
    # A dual national may sign only once; the per-State forms ask different data, so this is the
    # organiser's declaration, not something the fingerprint can catch. It binds the State so that
    # a Part B number never collides with another State's number of the same shape.
    german = PersonalData("DE", "Anna", "Schmidt", country="DE", postal_code="10115", date_of_birth=date(1985, 7, 30))
    french = PersonalData("FR", "Anna", "Schmidt", country="DE", postal_code="10115", date_of_birth=date(1985, 7, 30))

    assert fingerprint(KEY, INITIATIVE, german) != fingerprint(KEY, INITIATIVE, french)


@pytest.mark.parametrize("personal_data", [
    PersonalData("PL", "Łukasz", "Kowalski", id_type="national.id.number", id_number="85073012341"),
    PersonalData("DE", "Anna", "Schmidt", street="Hauptstraße", street_number="12a", postal_code="10115",
                 city="Berlin", country="DE", date_of_birth=date(1985, 7, 30)),
], ids=["part-b", "part-a"])
def test_personal_data_never_shows_personal_values_in_repr_or_str(personal_data: PersonalData) -> None:
    shown = repr(personal_data) + str(personal_data) + f"{personal_data}" + repr([personal_data])

    for secret in ("Łukasz", "Kowalski", "85073012341", "Anna", "Schmidt", "Hauptstraße", "12a", "10115",
                   "Berlin", "1985"):
        assert secret not in shown
    assert personal_data.member_state in shown


@pytest.mark.parametrize(("personal_data", "message"), [
    (PersonalData("PT", "Ana", "Silva", id_type="passport", id_number="ab123456"),
     "v1|demo-2026|B|PT|passport|AB123456"),
    (PersonalData("DE", "Anna Maria", "Schmidt", street="Hauptstr.", street_number="12a", postal_code="10 115",
                  city="Berlin", country="DE", date_of_birth=date(1985, 7, 30)),
     "v1|demo-2026|A|DE|anna maria|schmidt|1985-07-30|DE|10115"),
], ids=["part-b", "part-a"])
def test_a_citizen_who_signed_before_an_upgrade_is_still_recognised_after_it(
        personal_data: PersonalData, message: str) -> None:
    # The markers of a running collection were made with this exact message: a release that spelled it
    # differently (another version tag, case or field order) would let everyone who signed sign again.
    expected = hmac.new(KEY, message.replace("|", "\x1f").encode("utf-8"), hashlib.sha256).hexdigest()

    assert fingerprint(KEY, INITIATIVE, personal_data) == expected
