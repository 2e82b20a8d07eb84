"""The statement-of-support form that Annex III prescribes for a Member State, as data.

The form's fields depend only on the State of nationality: Part A States ask for residence and
date of birth, Part B States for one personal identification number or document they issue.
The page renders this spec; the validator checks a submission against it; nothing else decides
which fields exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from chalicelib.rules.member_states import MemberState

FieldKind = Literal["name", "text", "postcode", "country", "date", "id_type", "id_number"]

# Fields every form carries besides the Annex III data.
FORM_TOKEN = "form_token"  # noqa: S105 - a field name, not a secret
HONEYPOT = "homepage"  # hidden from people; automated submitters tend to fill it
LANGUAGE = "lang"
PRIVACY_ACCEPTED = "privacy_accepted"
FORMAT_CONFIRMED = "format_confirmed"  # "my number / postal code is correct" after a format warning
CONTROL_FIELDS = frozenset({FORM_TOKEN, HONEYPOT, LANGUAGE, PRIVACY_ACCEPTED, FORMAT_CONFIRMED})

# A date is typed as three numbers (day, month, year): the accessible pattern that works without
# JavaScript and lets the validator say precisely which date does not exist.
DATE_PARTS = ("day", "month", "year")

NAME_MAX_LENGTH = 100


@dataclass(frozen=True)
class FormField:
    name: str  # the submitted name; for a date, the prefix of its three parts
    kind: FieldKind
    max_length: int
    autocomplete: str | None = None

    @property
    def input_names(self) -> tuple[str, ...]:
        if self.kind == "date":
            return tuple(f"{self.name}_{part}" for part in DATE_PARTS)
        return (self.name,)


@dataclass(frozen=True)
class FormSpec:
    member_state: MemberState
    fields: tuple[FormField, ...]

    @property
    def asks_id_document(self) -> bool:
        return self.member_state.annex_iii_part == "B"

    @property
    def chooses_id_type(self) -> bool:
        """Whether the citizen picks the document type from a list (the State accepts several)."""
        return self.asks_id_document and len(self.member_state.id_documents) > 1

    @property
    def input_names(self) -> frozenset[str]:
        """Every name a submission of this form may carry, once each."""
        names = {name for field in self.fields for name in field.input_names}
        return frozenset(names | CONTROL_FIELDS)

    def field(self, name: str) -> FormField:
        for field in self.fields:
            if field.name == name:
                return field
        raise KeyError(name)


_NAMES = (
    FormField("full_first_names", "name", NAME_MAX_LENGTH, "given-name"),
    FormField("family_names", "name", NAME_MAX_LENGTH, "family-name"),
)
_PART_A = (
    FormField("street", "text", 100, "address-line1"),
    FormField("street_number", "text", 20, "address-line2"),
    FormField("postal_code", "postcode", 10, "postal-code"),
    FormField("city", "text", 60, "address-level2"),
    FormField("country", "country", 2, "country"),
    FormField("date_of_birth", "date", 4, "bday"),
)
_PART_B = (
    FormField("id_type", "id_type", 40),
    FormField("id_number", "id_number", 30, "off"),
)


@lru_cache(maxsize=32)
def form_spec(member_state: MemberState) -> FormSpec:
    extra = _PART_A if member_state.annex_iii_part == "A" else _PART_B
    return FormSpec(member_state=member_state, fields=_NAMES + extra)
