"""The XML support form: OCS 5.0's structure and vocabulary, escaped, well formed, valid against our schema."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from chalicelib.exporting.support_form import (
    PROPERTY_PREFIX,
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


def test_national_authority_gets_the_ocs_5_structure_in_its_order() -> None:
    document = _xml([_signature()])
    root = _parse(document)

    assert root.tag == "supportForm"
    assert [child.tag for child in root] == ["forCountry", "initiativeData", "signatures"]
    assert root.findtext("forCountry") == "de"
    data = root.find("initiativeData")
    assert data is not None
    assert [child.tag for child in data] == [
        "registrationNumber", "startOfTheCollectionPeriod", "endOfTheCollectionPeriod", "urlOnCommissionRegister",
        "title", "objectives", "registeredContactPersons", "url",
    ]
    initiative = demo_initiative()
    assert data.findtext("registrationNumber") == "ECI(2026)000042"
    assert data.findtext("startOfTheCollectionPeriod") == "2026-09-01"
    assert data.findtext("endOfTheCollectionPeriod") == "2027-08-31"
    assert data.findtext("urlOnCommissionRegister") == initiative.commission_register_url
    assert data.findtext("title") == initiative.texts["en"].title
    assert data.findtext("objectives") == initiative.texts["en"].main_objectives
    assert data.findtext("registeredContactPersons") == ", ".join(
        f"{person.name} {person.email}" for person in initiative.contact_persons)
    assert data.findtext("url") == initiative.website
    [signature] = root.iter("signature")
    assert [child.tag for child in signature] == ["submissionDate", "signatureIdentifier", "annexRevision",
                                                  "signatoryInfo"]
    assert signature.findtext("submissionDate") == "2026-11-27"
    assert signature.findtext("annexRevision") == "1"
    _assert_valid(document)


def test_greek_statements_are_for_country_gr_as_ocs_writes_it() -> None:
    root = _parse(_xml([_signature()], member_state="EL", language="el"))

    assert root.findtext("forCountry") == "gr"
    assert root.findtext("initiativeData/title") == demo_initiative().texts["el"].title


def test_demo_initiative_follows_the_annex_iii_of_regulation_2019_788() -> None:
    from chalicelib.initiative import ANNEX_III_2019_788

    assert demo_initiative().annex_revision == ANNEX_III_2019_788 == 2


def test_part_a_statement_has_general_and_address_groups_with_the_commissions_keys() -> None:
    root = _parse(_xml([_signature()]))
    groups = {group.findtext("name"): [(p.findtext("key"), p.findtext("value")) for p in group.iter("property")]
              for group in root.iter("group")}

    assert groups == {
        "oct.group.general": [("oct.property.full.first.names", "Jürgen 1"), ("oct.property.family.names", "Großmann"),
                              ("oct.property.date.of.birth", "1988-03-07")],
        "oct.group.address": [("oct.property.street", "Kastanienallee"), ("oct.property.street.number", "12b"),
                              ("oct.property.postal.code", "10435"), ("oct.property.city", "Berlin"),
                              ("oct.property.country", "DE")],
    }


@pytest.mark.parametrize(("residence", "stored", "exported"), [
    ("PL", "00950", "00-950"), ("PT", "1000001", "1000-001"), ("NL", "1234AB", "1234 AB"),
    ("SE", "11351", "113 51"), ("GR", "10557", "105 57"), ("CZ", "11000", "110 00"), ("SK", "81101", "811 01"),
    ("MT", "VLT1117", "VLT 1117"), ("IE", "D02X285", "D02 X285"),
    ("LU", "1661", "L-1661"), ("LV", "1050", "LV-1050"), ("LT", "01100", "LT-01100"),
    ("DE", "10435", "10435"),  # the Deutsche Post writes the five digits alone
    ("US", "00950", "00950"),  # outside the EU: as the citizen typed it, compacted
    ("PL", "0095", "0095"),  # not of Poland's format, confirmed by the citizen: as stored
])
def test_authority_reads_the_postal_code_as_its_national_post_writes_it(
    residence: str, stored: str, exported: str
) -> None:
    # Stored compact for the duplicate check ("00-950" and "00 950" are one code); an authority matching
    # addresses against its register reads "00-950", as Poczta Polska writes it.
    properties = {**part_a(1), "postal.code": stored, "country": residence}
    root = _parse(_xml([_signature(properties=properties)]))
    values = {p.findtext("key"): p.findtext("value") for p in root.iter("property")}
    assert values["oct.property.postal.code"] == exported


def test_part_b_statement_has_the_id_document_under_its_type_key() -> None:
    root = _parse(_xml([_signature(properties=part_b(44051401359))], member_state="PL"))
    groups = {group.findtext("name"): [(p.findtext("key"), p.findtext("value")) for p in group.iter("property")]
              for group in root.iter("group")}

    assert groups == {
        "oct.group.general": [("oct.property.full.first.names", "Zofia Maria"),
                              ("oct.property.family.names", "Wiśniewska-Kowal")],
        "oct.group.id": [("oct.property.personal.id", "44051401359")],
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

    assert groups["oct.group.id"] == [(PROPERTY_PREFIX + id_type, "AB1234567")]


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
    assert values["oct.property.family.names"] == value
    assert values["oct.property.city"] == value
    _assert_valid(document)


def test_french_authority_reads_the_initiative_in_french_with_its_contact_persons() -> None:
    root = _parse(_xml([_signature()], member_state="FR", language="fr"))

    assert root.findtext("initiativeData/title") == "Des rivières propres pour l'Europe"
    assert root.findtext("initiativeData/registeredContactPersons") == (
        "Anna Schmidt anna.schmidt@example.org, Luc Martin luc.martin@example.org")


def test_initiative_texts_are_escaped_too() -> None:
    header = replace(SupportFormHeader.for_initiative(demo_initiative(), "FR", "fr"),
                     title="Rivières & lacs <propres>", contact_persons='A "B" <a@example.org> & C')
    root = _parse(_xml([_signature()], header=header))

    assert root.findtext("initiativeData/title") == "Rivières & lacs <propres>"
    assert root.findtext("initiativeData/registeredContactPersons") == 'A "B" <a@example.org> & C'


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


@pytest.mark.parametrize(("field", "element"), [
    ("register_url", "urlOnCommissionRegister"),
    ("title", "title"),
    ("objectives", "objectives"),
    ("contact_persons", "registeredContactPersons"),
    ("website", "url"),
])
def test_an_initiative_text_the_xml_cannot_carry_stops_the_export_naming_the_element(field: str, element: str) -> None:
    # The initiative file's texts are not checked for XML's characters: the operator must learn which to fix.
    header = replace(SupportFormHeader.for_initiative(demo_initiative(), "FR", "fr"), **{field: "Rivi\x01ères"})

    with pytest.raises(XmlCharacterError, match=f"^{element}: holds a control character that XML 1.0 cannot carry$"):
        _xml([_signature()], header=header)


def test_export_of_many_signatures_validates_against_the_schema() -> None:
    signatures = [_signature(f"id-{number}", part_a(number)) for number in range(50)]
    signatures += [_signature(f"pl-{number}", part_b(number)) for number in range(50)]
    document = _xml(signatures)

    _assert_valid(document)
    assert len(_parse(document).findall("signatures/signature")) == 100


def test_form_without_signatures_is_still_valid() -> None:
    _assert_valid(_xml([]))


def _schema_accepts(document: bytes) -> bool:
    from lxml import etree

    schema = etree.XMLSchema(etree.parse(str(SCHEMA)))
    return bool(schema.validate(etree.fromstring(document)))


def test_schema_accepts_what_the_commissions_accepts_children_in_any_order_and_an_empty_group() -> None:
    document = _xml([_signature()])
    reordered = document.replace(b"<supportForm><forCountry>de</forCountry>", b"<supportForm>").replace(
        b"</initiativeData>", b"</initiativeData><forCountry>de</forCountry>")
    assert _schema_accepts(reordered)
    empty_group = document.replace(b"<groups>", b"<groups><group><name>oct.group.id</name><properties/></group>")
    assert _schema_accepts(empty_group)
    empty_value = document.replace(b"<value>12b</value>", b"<value></value>")
    assert _schema_accepts(empty_value)


@pytest.mark.parametrize(("what", "old", "new"), [
    ("the 1.x forLanguage OCS 5.0 dropped", b"<forCountry>de</forCountry>",
     b"<forCountry>de</forCountry><forLanguage>en</forLanguage>"),
    ("a key without the oct.property. prefix", b"<key>oct.property.city</key>", b"<key>city</key>"),
    ("the EU's EL where OCS writes gr", b"<forCountry>de</forCountry>", b"<forCountry>EL</forCountry>"),
    ("no start of the collection period", b"<startOfTheCollectionPeriod>2026-09-01</startOfTheCollectionPeriod>",
     b""),
    ("a date not yyyy-MM-dd", b"<endOfTheCollectionPeriod>2027-08-31<", b"<endOfTheCollectionPeriod>31/08/2027<"),
    ("a blank register URL", b">https://citizens-initiative.europa.eu/initiatives/details/2026/000042_en<", b"> <"),
    ("a blank signature identifier", b"<signatureIdentifier>0a1b2c3d-0000-4000-8000-000000000001<",
     b"<signatureIdentifier> <"),
    ("a group OCS 5.0 does not have", b"<name>oct.group.address</name>", b"<name>oct.group.other</name>"),
])
def test_schema_refuses_what_the_ocs_5_validator_refuses(what: str, old: bytes, new: bytes) -> None:
    document = _xml([_signature()])
    assert old in document, what

    assert not _schema_accepts(document.replace(old, new, 1)), what


def test_unknown_property_key_is_refused_naming_the_statement_only() -> None:
    from chalicelib.exporting.support_form import UnknownPropertyError

    with pytest.raises(UnknownPropertyError) as raised:
        _xml([_signature(properties={**part_a(1), "secret.thing": "x"})])

    assert "0a1b2c3d-0000-4000-8000-000000000001" in str(raised.value)
    assert "secret" not in str(raised.value)


def test_empty_values_are_left_out_rather_than_written_empty() -> None:
    root = _parse(_xml([_signature(properties={**part_a(1), "street.number": ""})]))

    keys = [p.findtext("key") for p in root.iter("property")]
    assert "oct.property.street.number" not in keys


def test_schema_comment_lists_every_restriction_it_adds_to_the_commissions_1x_schema() -> None:
    """Where this schema is stricter than OCS 1.x's (a pattern or a list of values where 1.x has a string), the
    comment's list of differences names the element: the schema documents the format and says where 5.0 wins."""
    from lxml import etree

    xs = "{http://www.w3.org/2001/XMLSchema}"
    tree = etree.parse(str(SCHEMA))
    comment = next(node.text for node in tree.getroot().itersiblings(preceding=True)
                   if isinstance(node, etree._Comment))
    differences = " ".join(comment.split()).split("Differences from oct-export.xsd")[1].split("Kept from 1.x")[0]
    restricted_types = {simple.get("name") for simple in tree.iter(f"{xs}simpleType")
                        if simple.get("name") and simple.find(f"{xs}restriction/*") is not None}
    restricted = set()
    for element in tree.iter(f"{xs}element"):
        inline = element.find(f"{xs}simpleType/{xs}restriction")
        if element.get("type") in restricted_types or (inline is not None and len(inline)):
            # The group's <name> is the one element whose name alone says little.
            restricted.add("group name" if element.get("name") == "name" else element.get("name"))

    missing = sorted(name for name in restricted if name not in differences)
    assert missing == [], missing
