"""The XML support form, as the Commission's OCS sent statements to national authorities, written as a stream.

Structure (no namespace; element order as in the OCS export model, see support_form.xsd)::

    supportForm
      forCountry, forLanguage
      initiativeData: registrationNumber, registrationDate, urlOnCommissionRegister, title,
                      subjectMatter, mainObjectives, organizerList, contactPersonsList, url
      signatures
        signature*: submissionDate, signatureIdentifier, annexRevision,
                    signatoryInfo/groups/group*: name, properties/property*: key, value

The writer emits the header, then one signature at a time, then the closing tags, to any binary sink:
memory does not grow with the number of statements. Text is escaped as it is written; a character
that XML 1.0 cannot carry at all (a control character) is refused, naming the field, never its value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from chalicelib.initiative import Initiative

ENCODING = "utf-8"

# Groups of the OCS export (oct.group.*) and the keys of each, in the order they are written.
GENERAL_GROUP = "oct.group.general"
ADDRESS_GROUP = "oct.group.address"
ID_GROUP = "oct.group.id"
GENERAL_KEYS = ("full.first.names", "family.names", "date.of.birth")
ADDRESS_KEYS = ("street", "street.number", "postal.code", "city", "country")

# XML 1.0 Char production: tab, newline, carriage return and everything from U+0020 except
# surrogates and U+FFFE/U+FFFF.
_NOT_XML_CHAR = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_KNOWN_KEYS = frozenset((*GENERAL_KEYS, *ADDRESS_KEYS))


class BinarySink(Protocol):
    def write(self, data: bytes, /) -> object: ...


class XmlCharacterError(ValueError):
    """A value holds a character XML 1.0 cannot represent; the message names where, not what."""


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
    """What precedes the signatures: the State, the form's language and the initiative's data."""

    member_state: str  # EU code, upper case (EL for Greece)
    language: str  # the language of the form that was signed
    registration_number: str
    registration_date: date
    register_url: str
    title: str
    subject_matter: str
    main_objectives: str
    organisers: str
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
            registration_date=initiative.registration_date,
            register_url=initiative.commission_register_url,
            title=text.title,
            subject_matter=text.subject_matter,
            main_objectives=text.main_objectives,
            # As the register shows them: organisers by name and country, contact persons with e-mail.
            organisers="; ".join(f"{person.name} ({person.country})" for person in initiative.organisers),
            contact_persons="; ".join(f"{person.name} <{person.email}>" for person in initiative.contact_persons),
            website=initiative.website,
        )


@dataclass(frozen=True)
class Signature:
    submission_date: date
    identifier: str
    annex_revision: int
    properties: Mapping[str, str]  # the Commission's keys, as PersonalData.properties() gives them


def property_groups(properties: Mapping[str, str]) -> list[tuple[str, list[tuple[str, str]]]]:
    """The properties sorted into the OCS groups; empty values and empty groups are left out.

    General (names, date of birth) and address keys are fixed; any other key is an ID document type
    (id.card, passport, personal.id, ...), so it goes to the ID group.
    """
    general = [(key, properties[key]) for key in GENERAL_KEYS if properties.get(key)]
    address = [(key, properties[key]) for key in ADDRESS_KEYS if properties.get(key)]
    known = set(GENERAL_KEYS) | set(ADDRESS_KEYS)
    identity = sorted((key, value) for key, value in properties.items() if key not in known and value)
    groups = [(GENERAL_GROUP, general), (ADDRESS_GROUP, address), (ID_GROUP, identity)]
    return [(name, entries) for name, entries in groups if entries]


def _element(name: str, text: str, where: str) -> str:
    return f"<{name}>{escape_text(text, where)}</{name}>"


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
            _element("forCountry", header.member_state.lower(), "forCountry"),
            _element("forLanguage", header.language, "forLanguage"),
            "<initiativeData>",
            _element("registrationNumber", header.registration_number, "registrationNumber"),
            _element("registrationDate", header.registration_date.isoformat(), "registrationDate"),
            _element("urlOnCommissionRegister", header.register_url, "urlOnCommissionRegister"),
            _element("title", header.title, "title"),
            _element("subjectMatter", header.subject_matter, "subjectMatter"),
            _element("mainObjectives", header.main_objectives, "mainObjectives"),
            _element("organizerList", header.organisers, "organizerList"),
            _element("contactPersonsList", header.contact_persons, "contactPersonsList"),
            _element("url", header.website, "url"),
            "</initiativeData>\n<signatures>\n",
        ]
        self._sink.write("".join(parts).encode(ENCODING))

    def add(self, signature: Signature) -> None:
        if self._state != "open":
            raise RuntimeError("add() needs a started, unfinished support form")
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
                safe_key = key if key in _KNOWN_KEYS else escape_text(key, where)
                safe_value = _escaped(value)
                if safe_value is None:
                    raise XmlCharacterError(f"{where}, property {safe_key}: holds a control character that "
                                            "XML 1.0 cannot carry")
                parts.append(f"<property><key>{safe_key}</key><value>{safe_value}</value></property>")
            parts.append("</properties></group>")
        parts.append("</groups></signatoryInfo></signature>\n")
        self._sink.write("".join(parts).encode(ENCODING))
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
