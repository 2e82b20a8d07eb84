"""The XML support form, in the vocabulary of the Commission's OCS 5.0 export, written as a stream.

Structure (no namespace; support_form.xsd beside this file is its schema, with the sources)::

    supportForm
      forCountry                      lower-case ISO 3166 code as OCS's country table has it ("gr" for Greece)
      initiativeData: registrationNumber, startOfTheCollectionPeriod, endOfTheCollectionPeriod,
                      urlOnCommissionRegister, title, objectives, registeredContactPersons, url
      signatures
        signature*: submissionDate, signatureIdentifier, annexRevision,
                    signatoryInfo/groups/group*: name, properties/property*: key (oct.property.*), value

The writer emits the header, then one signature at a time, then the closing tags, to any binary sink:
memory does not grow with the number of statements. Text is escaped as it is written. A statement that
cannot be written (a character XML 1.0 cannot carry, a property OCS has no key for) is refused before
any of it reaches the sink, naming the statement and the field, never its value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from chalicelib.initiative import Initiative
from chalicelib.signing.id_numbers import postcode_as_written
from chalicelib.xml_text import NOT_XML_CHARACTER

ENCODING = "utf-8"

# Groups of the OCS export (oct.group.*) and the keys of each, in the order they are written. The keys
# are stored without OCS's "oct.property." prefix (chalicelib/signing/statement.py) and get it here.
GENERAL_GROUP = "oct.group.general"
ADDRESS_GROUP = "oct.group.address"
ID_GROUP = "oct.group.id"
PROPERTY_PREFIX = "oct.property."
GENERAL_KEYS = ("full.first.names", "family.names", "date.of.birth")
ADDRESS_KEYS = ("street", "street.number", "postal.code", "city", "country")
# The ID documents of OCS 5.0's PropertyEnum (eu.europa.ec.eci.oct.webcommons.services.enums).
DOCUMENT_KEYS = (
    "passport", "id.card", "residence.permit", "personal.number", "personal.id", "permanent.residence",
    "national.id.number", "registration.certificate", "citizens.card",
)
OCS_KEYS = frozenset((*GENERAL_KEYS, *ADDRESS_KEYS, *DOCUMENT_KEYS))

# OCS's country table names Greece "gr" (ISO 3166); the EU's protocol code, our Member State code, is EL.
_OCS_COUNTRY = {"EL": "gr"}

_NOT_XML_CHAR = NOT_XML_CHARACTER


def ocs_country(member_state: str) -> str:
    """The forCountry of a Member State as OCS writes it: ISO 3166, lower case."""
    return _OCS_COUNTRY.get(member_state, member_state.lower())


class BinarySink(Protocol):
    def write(self, data: bytes, /) -> object: ...


class UnwritableStatementError(ValueError):
    """One statement cannot be written as it is stored; the message names where, never what.

    `reason` is a short code for the manifest ("control-character", "unknown-property").
    """

    reason = "unwritable"


class XmlCharacterError(UnwritableStatementError):
    """A value holds a character XML 1.0 cannot represent."""

    reason = "control-character"


class UnknownPropertyError(UnwritableStatementError):
    """A property has no key in OCS's vocabulary, so no authority's tooling could read it."""

    reason = "unknown-property"


def _escaped(value: str) -> str | None:
    """Element content, escaped (carriage returns as references, so parsers do not fold them);
    None if it holds a character XML 1.0 cannot carry. str.replace is C code: far faster than translate."""
    if _NOT_XML_CHAR.search(value):
        return None
    if "&" in value:
        value = value.replace("&", "&amp;")
    if "<" in value:
        value = value.replace("<", "&lt;")
    if ">" in value:
        value = value.replace(">", "&gt;")
    if "\r" in value:
        value = value.replace("\r", "&#13;")
    return value


def escape_text(value: str, where: str) -> str:
    escaped = _escaped(value)
    if escaped is None:
        raise XmlCharacterError(f"{where}: holds a control character that XML 1.0 cannot carry")
    return escaped


@dataclass(frozen=True)
class SupportFormHeader:
    """What precedes the signatures: the State, and the initiative's data in the form's language."""

    member_state: str  # EU code, upper case (EL for Greece); written as OCS's country code
    language: str  # the language of the form that was signed: it names the file, and picks the texts
    registration_number: str
    collection_start: date
    collection_end: date
    register_url: str
    title: str
    objectives: str
    contact_persons: str
    website: str

    @classmethod
    def for_initiative(cls, initiative: Initiative, member_state: str, language: str) -> SupportFormHeader:
        """The initiative's texts in the form's language (else the original language)."""
        text, _used = initiative.text(language)
        return cls(
            member_state=member_state,
            language=language,
            registration_number=initiative.registration_number,
            collection_start=initiative.collection_start,
            collection_end=initiative.collection_end,
            register_url=initiative.commission_register_url,
            title=text.title,
            objectives=text.main_objectives,
            # As OCS 5.0 writes registeredContactPersons: name and e-mail of each, comma-separated.
            contact_persons=", ".join(f"{person.name} {person.email}" for person in initiative.contact_persons),
            website=initiative.website,
        )


@dataclass(frozen=True)
class Signature:
    submission_date: date
    identifier: str
    annex_revision: int
    properties: Mapping[str, str]  # the Commission's keys without "oct.property.", as PersonalData gives them


def _as_written(key: str, properties: Mapping[str, str]) -> str:
    # Stored compact ("00950") for the duplicate check; the authority reads it as the post writes it.
    if key == "postal.code":
        return postcode_as_written(properties.get("country", ""), properties[key])
    return properties[key]


def property_groups(properties: Mapping[str, str]) -> list[tuple[str, list[tuple[str, str]]]]:
    """The properties sorted into the OCS groups; empty values and empty groups are left out.

    General (names, date of birth) and address keys are fixed; any other key is an ID document type
    (id.card, passport, personal.id, ...), so it goes to the ID group.
    """
    general = [(key, properties[key]) for key in GENERAL_KEYS if properties.get(key)]
    address = [(key, _as_written(key, properties)) for key in ADDRESS_KEYS if properties.get(key)]
    known = set(GENERAL_KEYS) | set(ADDRESS_KEYS)
    identity = sorted((key, value) for key, value in properties.items() if key not in known and value)
    groups = [(GENERAL_GROUP, general), (ADDRESS_GROUP, address), (ID_GROUP, identity)]
    return [(name, entries) for name, entries in groups if entries]


def _element(name: str, text: str, where: str) -> str:
    return f"<{name}>{escape_text(text, where)}</{name}>"


def signature_xml(signature: Signature) -> bytes:
    """One signature element, or UnwritableStatementError before anything is written."""
    where = f"signature {signature.identifier}"
    parts = [
        "<signature><submissionDate>",
        signature.submission_date.isoformat(),
        "</submissionDate>",
        _element("signatureIdentifier", signature.identifier, where),
        f"<annexRevision>{int(signature.annex_revision)}</annexRevision>",
        "<signatoryInfo><groups>",
    ]
    for name, entries in property_groups(signature.properties):
        parts.append(f"<group><name>{name}</name><properties>")
        for key, value in entries:
            if key not in OCS_KEYS:
                raise UnknownPropertyError(f"{where}: a property has no key in the OCS vocabulary")
            safe_value = _escaped(value)
            if safe_value is None:
                raise XmlCharacterError(f"{where}, property {key}: holds a control character that "
                                        "XML 1.0 cannot carry")
            parts.append(f"<property><key>{PROPERTY_PREFIX}{key}</key><value>{safe_value}</value></property>")
        parts.append("</properties></group>")
    parts.append("</groups></signatoryInfo></signature>\n")
    return "".join(parts).encode(ENCODING)


class SupportFormWriter:
    """Writes one supportForm document to a binary sink, signature by signature.

    Use: ``writer.start(header)``, ``writer.add(signature)`` for each, ``writer.finish()``.
    """

    def __init__(self, sink: BinarySink) -> None:
        self._sink = sink
        self._state = "new"
        self.signatures = 0

    def start(self, header: SupportFormHeader) -> None:
        if self._state != "new":
            raise RuntimeError("the support form was already started")
        self._state = "open"
        parts = [
            f'<?xml version="1.0" encoding="{ENCODING.upper()}"?>\n<supportForm>',
            _element("forCountry", ocs_country(header.member_state), "forCountry"),
            "<initiativeData>",
            _element("registrationNumber", header.registration_number, "registrationNumber"),
            _element("startOfTheCollectionPeriod", header.collection_start.isoformat(), "startOfTheCollectionPeriod"),
            _element("endOfTheCollectionPeriod", header.collection_end.isoformat(), "endOfTheCollectionPeriod"),
            _element("urlOnCommissionRegister", header.register_url, "urlOnCommissionRegister"),
            _element("title", header.title, "title"),
            _element("objectives", header.objectives, "objectives"),
            _element("registeredContactPersons", header.contact_persons, "registeredContactPersons"),
            _element("url", header.website, "url"),
            "</initiativeData>\n<signatures>\n",
        ]
        self._sink.write("".join(parts).encode(ENCODING))

    def add(self, signature: Signature) -> None:
        self.add_xml(signature_xml(signature))

    def add_xml(self, xml: bytes) -> None:
        """Add a signature rendered by signature_xml (so a caller can refuse one before opening a file)."""
        if self._state != "open":
            raise RuntimeError("add() needs a started, unfinished support form")
        self._sink.write(xml)
        self.signatures += 1

    def finish(self) -> None:
        if self._state != "open":
            raise RuntimeError("finish() needs a started, unfinished support form")
        self._state = "finished"
        self._sink.write(b"</signatures>\n</supportForm>\n")


def write_support_form(sink: BinarySink, header: SupportFormHeader, signatures: Iterable[Signature]) -> int:
    """A whole document in one call; returns the number of signatures written."""
    writer = SupportFormWriter(sink)
    writer.start(header)
    for signature in signatures:
        writer.add(signature)
    writer.finish()
    return writer.signatures
