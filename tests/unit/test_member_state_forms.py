"""Every Member State's form: what a citizen of each State types, and what they see back."""

from __future__ import annotations

import importlib
from datetime import date

import pytest

from chalicelib.rules.member_states import all_member_states
from chalicelib.signing.id_numbers import compact
from tests.unit import specimens
from tests.unit.submissions import (
    ADULT_BIRTH,
    PART_A_CODES,
    PART_B_CODES,
    VALID_ID_NUMBERS,
    VALID_POSTCODES,
    check,
    error_codes,
    state,
    valid_submission,
)


def _stored_number(code: str, number: str) -> str:
    """The canonical spelling: compacted; a Swedish number with its century (these specimens are 19xx)."""
    compacted = compact(number)
    return "19" + compacted if code == "SE" and len(compacted) == 10 else compacted


# How the postal codes of VALID_POSTCODES are stored: letters and digits, the post's country prefix dropped.
STORED_POSTCODES = {"IE": "D02X285", "GR": "10557", "LU": "1009", "NL": "1234AB", "SK": "81101"}

BORN_2005 = date(2005, 3, 15)

# More real shapes of the accepted documents: births after 2000, the newer number series, separators.
MORE_VALID_ID_NUMBERS = [
    ("BE", "national.id.number", specimens.belgian_national_number(BORN_2005), "born-2000-or-later"),
    ("BE", "national.id.number", "85.07.30-123.35", "typed-with-dots-and-hyphen"),
    ("BG", "personal.number", specimens.egn(BORN_2005), "born-2000-or-later"),
    ("CZ", "id.card", "123456AB", "older-card"),
    ("CZ", "id.card", "123456AB12", "older-card-with-series"),
    ("CZ", "id.card", "AB123456", "letters-first"),
    ("EE", "personal.number", specimens.baltic_personal_code(BORN_2005, male=False), "woman-born-2000s"),
    ("ES", "id.card", "12345678z", "lower-case-letter"),
    ("IT", "id.card", "AA1234567", "paper-card"),
    ("LT", "personal.number", specimens.baltic_personal_code(date(1962, 1, 2), male=False), "woman-born-1962"),
    ("LV", "personal.id", specimens.latvian_personal_code_new(), "new-style-32"),
    ("LV", "personal.id", "300785-12346", "old-style-with-hyphen"),
    ("HU", "id.card", "ABC123456", "newer-card"),
    ("PL", "national.id.number", specimens.pesel(BORN_2005), "born-2000-or-later"),
    ("PL", "national.id.number", "850730 12341", "typed-with-space"),
    ("PT", "citizens.card", "12345678 9 zz1", "typed-as-printed"),
    ("RO", "personal.id", specimens.cnp(BORN_2005, male=False), "woman-born-2000s"),
    ("SI", "personal.number", specimens.emso(BORN_2005), "born-2000s"),
    ("SE", "personal.number", specimens.personnummer(ADULT_BIRTH, full_year=True), "twelve-digits"),
    ("SE", "personal.number", "850730-1235", "with-hyphen"),
]

# A number of the wrong shape for each accepted document: the citizen may confirm it is correct.
FORMAT_MISMATCHES: dict[tuple[str, str], str] = {
    ("BE", "national.id.number"): "850730123",
    ("BG", "personal.number"): "85073012",
    ("CZ", "id.card"): "12345",
    ("CZ", "passport"): "A1234567",
    ("EE", "personal.number"): "3850730123",
    ("ES", "id.card"): "123456789Z",  # nine digits (seven are a DNI without its leading zero)
    ("ES", "passport"): "P1",
    ("HR", "personal.id"): "6951219740",
    ("IT", "passport"): "Y12",
    ("IT", "id.card"): "C1",
    ("CY", "id.card"): "ABC1234",
    ("CY", "passport"): "X1234567",
    ("LV", "personal.id"): "3007851234",
    ("LT", "personal.number"): "3850730123",
    ("HU", "id.card"): "12",
    ("HU", "passport"): "A1",
    ("HU", "personal.number"): "1850730123",
    ("MT", "id.card"): "M1234567",
    ("AT", "passport"): "AB",
    ("AT", "id.card"): "AB",
    ("PL", "national.id.number"): "8507301234",
    ("PT", "id.card"): "A1234",
    ("PT", "passport"): "123",
    ("PT", "citizens.card"): "123456789ZZ",
    ("RO", "id.card"): "A1",
    ("RO", "passport"): "AB",
    ("RO", "personal.id"): "185073040123",
    ("SI", "personal.number"): "300798550123",
    ("SE", "personal.number"): "850730123",
}

CHECKSUM_DOCUMENTS = [
    (ms.code, document.type, document.checksum)
    for ms in all_member_states() for document in ms.id_documents if document.checksum
]


def _wrong_check_digit(code: str, doc_type: str) -> str:
    number = VALID_ID_NUMBERS[(code, doc_type)]
    if (code, doc_type) == ("ES", "id.card"):
        return number[:-1] + ("A" if number[-1] != "A" else "B")  # the DNI's check is its letter
    return specimens.flip_last(number)


def _document_submission(code: str, doc_type: str, number: str, **overrides: str) -> dict[str, str]:
    return valid_submission(code, id_type=doc_type, id_number=number, **overrides)


def test_the_rules_put_each_of_the_27_states_in_its_annex_iii_part() -> None:
    parts = {ms.code: ms.annex_iii_part for ms in all_member_states()}
    assert len(parts) == 27
    assert sorted(code for code, part in parts.items() if part == "A") == sorted(PART_A_CODES)
    assert sorted(code for code, part in parts.items() if part == "B") == sorted(PART_B_CODES)


def test_every_accepted_document_has_a_valid_and_a_misshapen_specimen_here() -> None:
    accepted = {(ms.code, d.type) for ms in all_member_states() for d in ms.id_documents}
    assert set(VALID_ID_NUMBERS) == accepted
    assert set(FORMAT_MISMATCHES) == accepted


@pytest.mark.parametrize("code", PART_A_CODES + PART_B_CODES)
def test_citizen_of_each_member_state_filling_the_form_correctly_is_accepted(code: str) -> None:
    submitted = valid_submission(code)
    result = check(code, submitted)

    assert result.errors == ()
    personal_data = result.personal_data
    assert personal_data is not None
    assert personal_data.member_state == code
    expected = {"full.first.names": "Anna Maria", "family.names": "Schmidt"}
    if code in PART_A_CODES:
        iso = state(code).iso_code
        postcode = STORED_POSTCODES.get(iso, VALID_POSTCODES[iso])
        expected |= {"street": "Hauptstraße", "street.number": "12a", "postal.code": postcode,
                     "city": "Musterstadt", "country": iso, "date.of.birth": ADULT_BIRTH.isoformat()}
    else:
        expected[submitted["id_type"]] = _stored_number(code, submitted["id_number"])
    assert personal_data.properties() == expected


@pytest.mark.parametrize(("code", "doc_type", "number"),
                         [(code, doc_type, number) for (code, doc_type), number in VALID_ID_NUMBERS.items()]
                         + [entry[:3] for entry in MORE_VALID_ID_NUMBERS],
                         ids=[f"{code}-{doc_type}" for code, doc_type in VALID_ID_NUMBERS]
                         + [f"{code}-{doc_type}-{label}" for code, doc_type, _, label in MORE_VALID_ID_NUMBERS])
def test_citizen_with_a_real_document_number_is_accepted(code: str, doc_type: str, number: str) -> None:
    result = check(code, _document_submission(code, doc_type, number))

    assert result.errors == ()
    assert result.personal_data is not None
    assert result.personal_data.properties()[doc_type] == _stored_number(code, number)


@pytest.mark.parametrize(("code", "doc_type", "module"), CHECKSUM_DOCUMENTS,
                         ids=[f"{code}-{module}" for code, _, module in CHECKSUM_DOCUMENTS])
def test_specimen_check_digits_computed_here_agree_with_python_stdnum(code: str, doc_type: str, module: str) -> None:
    checker = importlib.import_module(f"stdnum.{module}")
    numbers = [VALID_ID_NUMBERS[(code, doc_type)]]
    numbers += [number for c, t, number, _ in MORE_VALID_ID_NUMBERS if (c, t) == (code, doc_type)]
    for number in numbers:
        assert checker.is_valid(compact(number)), number
    assert not checker.is_valid(_wrong_check_digit(code, doc_type))


@pytest.mark.parametrize(("code", "doc_type"), [(code, doc_type) for code, doc_type, _ in CHECKSUM_DOCUMENTS],
                         ids=[f"{code}-{doc_type}" for code, doc_type, _ in CHECKSUM_DOCUMENTS])
@pytest.mark.parametrize("confirmed", ["", "yes"], ids=["", "even-after-confirming-the-format"])
def test_citizen_with_a_wrong_check_digit_sees_id_invalid(code: str, doc_type: str, confirmed: str) -> None:
    submitted = _document_submission(code, doc_type, _wrong_check_digit(code, doc_type), format_confirmed=confirmed)
    result = check(code, submitted)

    assert error_codes(result) == {"id_number": "id_invalid"}
    assert not result.needs_format_confirmation
    assert result.personal_data is None


def test_polish_citizen_with_a_pesel_whose_birth_date_does_not_exist_sees_id_invalid() -> None:
    month_13 = specimens.with_pesel_check_digit("8513301234")
    result = check("PL", valid_submission("PL", id_number=month_13, format_confirmed="yes"))

    assert error_codes(result) == {"id_number": "id_invalid"}


@pytest.mark.parametrize(("code", "doc_type"), list(FORMAT_MISMATCHES), ids=[f"{c}-{t}" for c, t in FORMAT_MISMATCHES])
def test_citizen_with_an_unusual_number_format_is_asked_to_confirm_it(code: str, doc_type: str) -> None:
    number = FORMAT_MISMATCHES[(code, doc_type)]

    warned = check(code, _document_submission(code, doc_type, number))
    confirmed = check(code, _document_submission(code, doc_type, number, format_confirmed="yes"))

    assert error_codes(warned) == {"id_number": "id_format"}
    assert warned.needs_format_confirmation
    assert warned.errors[0].confirmable
    assert confirmed.errors == ()
    assert confirmed.personal_data is not None
    assert confirmed.personal_data.properties()[doc_type] == compact(number)


def test_belgian_all_zero_number_is_not_waved_through_as_valid() -> None:
    # stdnum refuses it as a format error; the format rule alone would have matched it.
    result = check("BE", valid_submission("BE", id_number="00000000000"))

    assert error_codes(result) == {"id_number": "id_format"}


def test_latvian_company_registration_number_is_not_taken_for_a_personal_code() -> None:
    company = "40003521600"  # a valid Latvian legal-entity number (python-stdnum's own example)
    assert importlib.import_module("stdnum.lv.pvn").is_valid(company)

    result = check("LV", valid_submission("LV", id_number=company))

    assert error_codes(result) == {"id_number": "id_format"}


def test_citizen_confirming_the_format_still_sees_other_errors() -> None:
    submitted = valid_submission("PL", id_number="8507301234", family_names="", format_confirmed="yes")

    result = check("PL", submitted)

    assert error_codes(result) == {"id_number": "id_format", "family_names": "required"}
    assert result.personal_data is None


@pytest.mark.parametrize("code", [c for c in PART_B_CODES if len(state(c).id_documents) == 1])
def test_citizen_of_a_state_with_one_document_does_not_choose_its_type(code: str) -> None:
    submitted = valid_submission(code)
    del submitted["id_type"]

    result = check(code, submitted)

    assert result.personal_data is not None
    assert result.personal_data.id_type == state(code).id_documents[0].type


@pytest.mark.parametrize("code", [c for c in PART_B_CODES if len(state(c).id_documents) > 1])
def test_citizen_of_a_state_with_several_documents_must_choose_one(code: str) -> None:
    result = check(code, valid_submission(code, id_type=""))

    assert error_codes(result) == {"id_type": "required"}


def test_every_member_state_has_a_postcode_format_and_a_specimen_here() -> None:
    assert {ms.iso_code for ms in all_member_states() if ms.postcode_format} == set(VALID_POSTCODES)


POSTCODE_MISMATCHES = {
    "BE": "100", "BG": "10000", "CZ": "1100", "DK": "10500", "DE": "1011", "EE": "1011", "IE": "D02",
    "GR": "1055", "ES": "2801", "FR": "7500", "HR": "1000", "IT": "0018", "CY": "101", "LV": "LV-105",
    "LT": "LT-0110", "LU": "L-100", "HU": "105", "MT": "1117", "NL": "0123AB", "AT": "10100", "PL": "0095",
    "PT": "1000", "RO": "01001", "SI": "100", "SK": "12345", "FI": "0010", "SE": "1145",
}


@pytest.mark.parametrize("residence", sorted(VALID_POSTCODES))
def test_german_citizen_living_in_each_member_state_with_its_postcode_is_accepted(residence: str) -> None:
    submitted = valid_submission("DE", country=residence, postal_code=VALID_POSTCODES[residence])

    result = check("DE", submitted)

    assert result.errors == ()
    assert result.personal_data is not None
    assert result.personal_data.country == residence


@pytest.mark.parametrize("residence", sorted(POSTCODE_MISMATCHES))
def test_german_citizen_with_a_postcode_unusual_for_the_country_is_asked_to_confirm_it(residence: str) -> None:
    submitted = valid_submission("DE", country=residence, postal_code=POSTCODE_MISMATCHES[residence])

    warned = check("DE", submitted)
    confirmed = check("DE", submitted | {"format_confirmed": "yes"})

    assert error_codes(warned) == {"postal_code": "postcode_format"}
    assert warned.needs_format_confirmation
    assert confirmed.errors == ()


@pytest.mark.parametrize(("code", "residence", "postcode"), [
    ("NL", "NL", "1234AB"), ("NL", "NL", "1234 ab"), ("SK", "SK", "81101"), ("SK", "SK", "911 01"),
    ("DE", "DE", "01067"), ("EL", "GR", "10557"), ("IE", "IE", "d02x285"), ("FI", "FI", "00100"),
])
def test_part_a_citizen_living_at_home_with_a_local_postcode_is_accepted(code: str, residence: str,
                                                                         postcode: str) -> None:
    result = check(code, valid_submission(code, country=residence, postal_code=postcode))

    assert result.errors == ()


@pytest.mark.parametrize(("residence", "postcode"), [
    ("US", "90210-1234"), ("CH", "8001"), ("NO", "0150"), ("GB", "SW1A 1AA"), ("CA", "K1A 0B1"),
    ("JP", "100-0001"), ("US", "ANY 1"), ("IR", "1193653471"),  # Iran's have ten digits, the longest
])
def test_citizen_living_outside_the_eu_is_held_to_no_postcode_format(residence: str, postcode: str) -> None:
    result = check("FR", valid_submission("FR", country=residence, postal_code=postcode))

    assert result.errors == ()
    assert result.personal_data is not None
    assert result.personal_data.country == residence


def test_greek_citizen_living_in_greece_picks_gr_and_is_held_to_the_greek_format() -> None:
    accepted = check("EL", valid_submission("EL", country="GR", postal_code="105 57"))
    warned = check("EL", valid_submission("EL", country="GR", postal_code="1055"))

    assert accepted.errors == ()
    assert error_codes(warned) == {"postal_code": "postcode_format"}
