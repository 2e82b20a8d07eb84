"""The XML support form: the OCS structure in its order, escaped, well formed, valid against our schema."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from chalicelib.exporting.support_form import (
    Signature,
    SupportFormHeader,
    XmlCharacterError,
    write_support_form,
)
from chalicelib.rules.member_states import all_member_states
from chalicelib.signing.statement import PersonalData
from tests.unit.export_specimens import demo_initiative, part_a, part_b

SCHEMA = Path(__file__).resolve().parents[2] / "chalicelib" / "exporting" / "support_form.xsd"


def _parse(document: bytes) -> ET.Element:
    return ET.fromstring(document)  # noqa: S314 - the XML is this project's own export, in a test


def _xml(signatures: list[Signature], member_state: str = "DE", language: str = "en",
         header: SupportFormHeader | None = None) -> bytes:
    sink = io.BytesIO()
    write_support_form(sink, header or SupportFormHeader.for_initiative(demo_initiative(), member_state, language),
                       signatures)
    return sink.getvalue()


def _signature(identifier: str = "0a1b2c3d-0000-4000-8000-000000000001",
               properties: dict[str, str] | None = None) -> Signature:
    return Signature(date(2026, 11, 27), identifier, 1, properties or part_a(1))


def _assert_valid(document: bytes) -> None:
    from lxml import etree

    schema = etree.XMLSchema(etree.parse(str(SCHEMA)))
    parsed = etree.fromstring(document)
    assert schema.validate(parsed), schema.error_log


def test_national_authority_gets_the_ocs_structure_in_its_order() -> None:
    root = _parse(_xml([_signature()]))

    assert root.tag == "supportForm"
    assert [child.tag for child in root] == ["forCountry", "forLanguage", "initiativeData", "signatures"]
    assert root.findtext("forCountry") == "de"
    assert root.findtext("forLanguage") == "en"
    data = root.find("initiativeData")
    assert data is not None
    assert [child.tag for child in data] == [
        "registrationNumber", "registrationDate", "urlOnCommissionRegister", "title", "subjectMatter",
        "mainObjectives", "organizerList", "contactPersonsList", "url",
    ]
    assert data.findtext("registrationNumber") == "ECI(2026)000042"
    assert data.findtext("registrationDate") == "2026-07-01"
    [signature] = root.iter("signature")
    assert [child.tag for child in signature] == ["submissionDate", "signatureIdentifier", "annexRevision",
                                                  "signatoryInfo"]
    assert signature.findtext("submissionDate") == "2026-11-27"
    assert signature.findtext("annexRevision") == "1"


def test_part_a_statement_has_general_and_address_groups_with_the_commissions_keys() -> None:
    root = _parse(_xml([_signature()]))
    groups = {group.findtext("name"): [(p.findtext("key"), p.findtext("value")) for p in group.iter("property")]
              for group in root.iter("group")}

    assert groups == {
        "oct.group.general": [("full.first.names", "Jürgen 1"), ("family.names", "Großmann"),
                              ("date.of.birth", "1988-03-07")],
        "oct.group.address": [("street", "Kastanienallee"), ("street.number", "12b"), ("postal.code", "10435"),
                              ("city", "Berlin"), ("country", "DE")],
    }


def test_part_b_statement_has_the_id_document_under_its_type_key() -> None:
    root = _parse(_xml([_signature(properties=part_b(44051401359))], member_state="PL"))
    groups = {group.findtext("name"): [(p.findtext("key"), p.findtext("value")) for p in group.iter("property")]
              for group in root.iter("group")}

    assert groups == {
        "oct.group.general": [("full.first.names", "Zofia Maria"), ("family.names", "Wiśniewska-Kowal")],
        "oct.group.id": [("personal.id", "44051401359")],
    }


# Each ID document type a Part B State accepts, with the first State that accepts it.
ID_TYPES = {document.type: state.code for state in reversed(all_member_states()) for document in state.id_documents}


@pytest.mark.parametrize("id_type", sorted(ID_TYPES))
def test_authority_receives_the_document_number_of_every_id_type_its_citizens_sign_with(id_type: str) -> None:
    code = ID_TYPES[id_type]
    # Passports and identity cards as much as personal numbers: a statement exported without its
    # document number cannot be verified, so the authority would have to reject it.
    signed = PersonalData(code, "Zofia Maria", "Wiśniewska-Kowal", id_type=id_type, id_number="AB1234567")
    root = _parse(_xml([_signature(properties=signed.properties())], member_state=code))
    groups = {group.findtext("name"): [(p.findtext("key"), p.findtext("value")) for p in group.iter("property")]
              for group in root.iter("group")}

    assert groups["oct.group.id"] == [(id_type, "AB1234567")]


@pytest.mark.parametrize("value", [
    'Smith & Sons <b>"quoted"</b> \'single\'',
    "Παπαδόπουλος",  # Greek
    "Иванова-Петрова",  # Cyrillic
    "Łódź Ćmielów Žižkov Ærøskøbing",
    "]]> <!-- --> <?pi?> &amp;",
    "line one\r\nline two\ttab",
])
def test_every_value_comes_back_exactly_as_signed(value: str) -> None:
    properties = {**part_a(1), "family.names": value, "city": value}
    document = _xml([_signature(properties=properties)])

    root = _parse(document)  # well formed
    values = {p.findtext("key"): p.findtext("value") for p in root.iter("property")}
    assert values["family.names"] == value
    assert values["city"] == value
    _assert_valid(document)


def test_french_authority_reads_the_initiative_in_french_with_its_organisers_and_contacts() -> None:
    root = _parse(_xml([_signature()], member_state="FR", language="fr"))

    assert root.findtext("initiativeData/title") == "Des rivières propres pour l'Europe"
    assert root.findtext("initiativeData/organizerList") == (
        "Anna Schmidt (DE); Luc Martin (FR); Eleni Papadopoulou (GR); Marta Kowalska (PL); João Silva (PT); "
        "Ieva Ozola (LV); Siobhán Murphy (IE)")
    assert root.findtext("initiativeData/contactPersonsList") == (
        "Anna Schmidt <anna.schmidt@example.org>; Luc Martin <luc.martin@example.org>")


def test_initiative_texts_are_escaped_too() -> None:
    header = replace(SupportFormHeader.for_initiative(demo_initiative(), "FR", "fr"),
                     title="Rivières & lacs <propres>", organisers='A "B" & C')
    root = _parse(_xml([_signature()], header=header))

    assert root.findtext("initiativeData/title") == "Rivières & lacs <propres>"
    assert root.findtext("initiativeData/organizerList") == 'A "B" & C'


def test_file_is_utf8_with_a_declaration() -> None:
    document = _xml([_signature(properties={**part_a(1), "city": "Görlitz"})])

    assert document.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<supportForm>')
    assert "Görlitz".encode() in document


def test_control_character_is_refused_naming_the_field_not_the_value() -> None:
    with pytest.raises(XmlCharacterError) as raised:
        _xml([_signature(properties={**part_a(1), "city": "Ber\x00lin"})])

    assert "0a1b2c3d-0000-4000-8000-000000000001" in str(raised.value)
    assert "city" in str(raised.value)
    assert "Ber" not in str(raised.value)


def test_export_of_many_signatures_validates_against_the_schema() -> None:
    signatures = [_signature(f"id-{number}", part_a(number)) for number in range(50)]
    signatures += [_signature(f"pl-{number}", part_b(number)) for number in range(50)]
    document = _xml(signatures)

    _assert_valid(document)
    assert len(_parse(document).findall("signatures/signature")) == 100


def test_form_without_signatures_is_still_valid() -> None:
    _assert_valid(_xml([]))


def test_schema_refuses_elements_out_of_order() -> None:
    from lxml import etree

    schema = etree.XMLSchema(etree.parse(str(SCHEMA)))
    document = _xml([_signature()]).replace(b"<forCountry>de</forCountry><forLanguage>en</forLanguage>",
                                            b"<forLanguage>en</forLanguage><forCountry>de</forCountry>")
    assert not schema.validate(etree.fromstring(document))


def test_empty_values_are_left_out_rather_than_written_empty() -> None:
    root = _parse(_xml([_signature(properties={**part_a(1), "street.number": ""})]))

    keys = [p.findtext("key") for p in root.iter("property")]
    assert "street.number" not in keys
