"""The personal data of one statement of support, and its sealed form.

The payload uses the property keys of the Commission's software (full.first.names, postal.code,
the ID document type as its own key, ...) so the export can write them as they are.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from chalicelib.signing.id_numbers import compact

PAYLOAD_VERSION = 1
# Apostrophes and hyphens that look alike compare alike: "O’Brien" (a phone's keyboard) and "O'Brien" are
# one person. Names are stored as typed; only the duplicate check folds them.
_LOOK_ALIKE_PUNCTUATION = str.maketrans({"’": "'", "ʼ": "'", "‐": "-"})


@dataclass(frozen=True)
class PersonalData:
    member_state: str
    full_first_names: str
    family_names: str
    # Part A
    street: str = ""
    street_number: str = ""
    postal_code: str = ""
    city: str = ""
    country: str = ""  # ISO code of the country of residence
    date_of_birth: date | None = None
    # Part B
    id_type: str = ""
    id_number: str = ""

    def __repr__(self) -> str:
        # Never let personal data reach a log line through a stray repr.
        return f"PersonalData(member_state={self.member_state!r}, <personal data withheld>)"

    __str__ = __repr__

    def properties(self) -> dict[str, str]:
        """The statement as the Commission's export keys name its fields."""
        properties = {"full.first.names": self.full_first_names, "family.names": self.family_names}
        if self.id_type:
            properties[self.id_type] = self.id_number
        else:
            properties.update(
                {
                    "street": self.street,
                    "street.number": self.street_number,
                    "postal.code": self.postal_code,
                    "city": self.city,
                    "country": self.country,
                    "date.of.birth": self.date_of_birth.isoformat() if self.date_of_birth else "",
                }
            )
        return properties

    def identity(self) -> tuple[str, ...]:
        """What makes two statements the same person's under the State's form.

        Part B: the document type and number (issued by that State, so unique within it).
        Part A: names, date of birth and residence postcode and country, compared case-insensitively
        (as Proca and the Commission's software did; look-alike apostrophes and hyphens as one): two
        namesakes born the same day rarely share a postal code, and a false match would silently drop
        a real statement.
        """
        if self.id_type:
            return ("B", self.member_state, self.id_type, self.id_number.upper())
        return (
            "A",
            self.member_state,
            self.full_first_names.translate(_LOOK_ALIKE_PUNCTUATION).casefold(),
            self.family_names.translate(_LOOK_ALIKE_PUNCTUATION).casefold(),
            self.date_of_birth.isoformat() if self.date_of_birth else "",
            self.country.upper(),
            compact(self.postal_code),  # "1000-001" and "1000 001" are one postcode
        )

    def to_payload(self) -> bytes:
        """The plaintext that gets sealed: compact JSON of the properties."""
        document = {"v": PAYLOAD_VERSION, "ms": self.member_state, "properties": self.properties()}
        return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
