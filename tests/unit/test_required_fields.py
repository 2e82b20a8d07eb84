"""Mandatory fields, the privacy statement and the options a citizen picks from a list."""

from __future__ import annotations

import pytest

from chalicelib.signing.form import DATE_PARTS
from tests.unit.submissions import PART_A_CODES, PART_B_CODES, check, error_codes, spec, valid_submission


def _mandatory_fields() -> list[tuple[str, str]]:
    pairs = []
    for code in PART_A_CODES + PART_B_CODES:
        form = spec(code)
        for field in form.fields:
            if field.kind == "id_type" and not form.chooses_id_type:
                continue  # a State with one document has no choice to leave empty
            pairs.append((code, field.name))
    return pairs


MANDATORY = _mandatory_fields()


@pytest.mark.parametrize(("code", "field_name"), MANDATORY, ids=[f"{c}-{f}" for c, f in MANDATORY])
def test_citizen_leaving_a_mandatory_field_empty_sees_required(code: str, field_name: str) -> None:
    field = spec(code).field(field_name)
    submitted = valid_submission(code, **dict.fromkeys(field.input_names, ""))

    result = check(code, submitted)

    assert error_codes(result) == {field_name: "required"}
    assert result.personal_data is None


@pytest.mark.parametrize("code", ["DE", "PL"])
def test_citizen_leaving_a_field_blank_with_only_spaces_sees_required(code: str) -> None:
    result = check(code, valid_submission(code, family_names="   "))

    assert error_codes(result) == {"family_names": "required"}


@pytest.mark.parametrize("code", ["DE", "PL", "IT"])
def test_citizen_submitting_an_empty_form_sees_every_mandatory_field_required(code: str) -> None:
    result = check(code, {})

    expected = {name: "required" for c, name in MANDATORY if c == code}
    assert error_codes(result) == expected | {"privacy_accepted": "privacy_not_accepted"}


def test_required_field_is_not_cleared_by_confirming_the_format() -> None:
    result = check("DE", valid_submission("DE", city="", format_confirmed="yes"))

    assert error_codes(result) == {"city": "required"}


@pytest.mark.parametrize("ticked", ["", "no", "on", "YES", "true"])
@pytest.mark.parametrize("code", ["FR", "ES"])
def test_citizen_not_ticking_the_privacy_statement_sees_privacy_not_accepted(code: str, ticked: str) -> None:
    submitted = valid_submission(code, privacy_accepted=ticked, format_confirmed="yes")

    result = check(code, submitted)

    assert error_codes(result) == {"privacy_accepted": "privacy_not_accepted"}
    assert not result.needs_format_confirmation


@pytest.mark.parametrize("chosen", ["personal.number", "driving.licence", "ID.CARD", "passports"])
def test_citizen_choosing_a_document_type_the_state_does_not_accept_sees_unknown_option(chosen: str) -> None:
    result = check("IT", valid_submission("IT", id_type=chosen))

    assert error_codes(result) == {"id_type": "unknown_option"}


def test_citizen_choosing_another_states_document_sees_only_the_type_error() -> None:
    # The number is then not checked: its error would be against a document that was never offered.
    result = check("CZ", valid_submission("CZ", id_type="personal.number", id_number="x"))

    assert error_codes(result) == {"id_type": "unknown_option"}


@pytest.mark.parametrize("country", ["XX", "EU", "ZZ", "Germany", "DEU", "<b>", "EL"])
def test_citizen_picking_an_unknown_country_of_residence_sees_unknown_option(country: str) -> None:
    result = check("DE", valid_submission("DE", country=country))

    assert error_codes(result)["country"] == "unknown_option"


def test_citizen_whose_browser_sends_the_country_code_in_lower_case_is_accepted() -> None:
    result = check("DE", valid_submission("DE", country="at", postal_code="1010"))

    assert result.errors == ()
    assert result.personal_data is not None
    assert result.personal_data.country == "AT"


@pytest.mark.parametrize(("field_name", "limit"), [("street", 100), ("street_number", 20), ("city", 60),
                                                   ("postal_code", 10)])
def test_citizen_typing_an_overlong_address_part_sees_too_long(field_name: str, limit: int) -> None:
    result = check("DE", valid_submission("DE", **{field_name: "1" * (limit + 1)}))

    assert error_codes(result) == {field_name: "too_long"}


@pytest.mark.parametrize(("field_name", "limit"), [("street", 100), ("street_number", 20), ("city", 60)])
def test_citizen_typing_an_address_part_of_exactly_the_longest_length_is_accepted(field_name: str, limit: int) -> None:
    assert check("DE", valid_submission("DE", **{field_name: "1" * limit})).errors == ()


def test_citizen_whose_address_keeps_a_combining_accent_is_accepted() -> None:
    # E with a dot above and a tilde, u with a line below: no precomposed letters, so NFC leaves the marks.
    assert check("DE", valid_submission("DE", street="Ė\u0303riu g.", city="Vilniu\u0331s")).errors == ()


def test_citizen_typing_an_overlong_document_number_sees_too_long() -> None:
    result = check("ES", valid_submission("ES", id_type="passport", id_number="A" * 31))

    assert error_codes(result) == {"id_number": "too_long"}


@pytest.mark.parametrize("street", ["Rue de l'Église 3/5", "Calle Mayor, n.º 4", "Οδός Αθηνάς", "ул. Ленина"])
def test_citizen_typing_an_ordinary_address_is_accepted(street: str) -> None:
    assert check("DE", valid_submission("DE", street=street)).errors == ()


@pytest.mark.parametrize("street", ["<script>", "Main St 😀", "北京路", "a{b}"])
def test_citizen_typing_markup_or_foreign_script_in_the_address_sees_text_characters(street: str) -> None:
    assert error_codes(check("DE", valid_submission("DE", street=street))) == {"street": "text_characters"}


def test_date_parts_are_named_day_month_year() -> None:
    assert spec("DE").field("date_of_birth").input_names == tuple(f"date_of_birth_{p}" for p in DATE_PARTS)
