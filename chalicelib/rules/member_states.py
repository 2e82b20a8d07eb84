"""The law as data: what each Member State asks of its citizens, read from member_states.json.

The JSON file is the project's own copy of the shared reference, curated: see its "meta.choices".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal

_DATA_FILE = Path(__file__).with_name("member_states.json")

AnnexPart = Literal["A", "B"]
AgeRule = Literal["reached_on_signing_day", "reached_in_calendar_year"]


@dataclass(frozen=True)
class IdDocument:
    """One personal identification number or document that a Part B State accepts."""

    type: str  # the key the Commission's software used, e.g. "id.card", "national.id.number"
    name_en: str
    name_native: str
    format: re.Pattern[str]  # whole-string, applied to the number with separators removed
    checksum: str | None  # python-stdnum module ("pl.pesel") that checks its check digits
    birth_date: str | None = None  # python-stdnum module whose get_birth_date reads the date inside
    # Country codes a citizen may type before the number ("HR" of the VAT number, "PL 850730..."): the
    # State's own codes. Dropped where the number does not fit its format with them and does without.
    country_prefixes: tuple[str, ...] = ()
    zero_padded_to: int | None = None  # digits the card prints, leading zeros included (ES DNI: 8)
    four_digit_year: bool = False  # stored with the century (SE: YYYYMMDDNNNC)


@dataclass(frozen=True)
class Threshold:
    """An Annex I minimum number of signatories, for initiatives registered in [valid_from, valid_until]."""

    valid_from: date
    valid_until: date | None
    value: int
    basis: str


@dataclass(frozen=True)
class MemberState:
    code: str  # EU protocol code: "EL" for Greece
    iso_code: str  # ISO 3166-1: "GR" for Greece
    name_en: str
    official_languages: tuple[str, ...]
    annex_iii_part: AnnexPart
    min_age: int
    age_rule: AgeRule
    id_documents: tuple[IdDocument, ...]
    postcode_format: re.Pattern[str] | None  # applies when this is the country of residence
    thresholds: tuple[Threshold, ...]
    # Country prefixes typed before a postal code of this country ("DE-10115", "D-10115", "L-1661"): its
    # ISO and EU codes and its old international sign. Dropped where the code fits the format only without.
    postcode_prefixes: tuple[str, ...] = ()
    postcode_written: str | None = None  # how the post writes it: "#" a character of the stored code ("##-###")

    def id_document(self, type_key: str) -> IdDocument | None:
        for document in self.id_documents:
            if document.type == type_key:
                return document
        return None

    def threshold_for(self, registration_date: date) -> int:
        """The Annex I minimum in force on the initiative's registration date (Art. 3(1)(b))."""
        for threshold in self.thresholds:
            if threshold.valid_from <= registration_date and (
                threshold.valid_until is None or registration_date <= threshold.valid_until
            ):
                return threshold.value
        raise ValueError(f"no Annex I threshold for {self.code} on {registration_date.isoformat()}")


def _whole(pattern: str) -> re.Pattern[str]:
    return re.compile(f"(?:{pattern})", re.IGNORECASE)


def _parse(raw: dict[str, object]) -> MemberState:
    country_prefixes = tuple(dict.fromkeys((str(raw["iso_code"]), str(raw["code"]))))
    documents = tuple(
        IdDocument(
            type=str(d["type"]),
            name_en=str(d["name_en"]),
            name_native=str(d["name_native"]),
            format=_whole(str(d["format"])),
            checksum=str(d["checksum"]) if d.get("checksum") else None,
            birth_date=str(d["birth_date"]) if d.get("birth_date") else None,
            country_prefixes=country_prefixes,
            zero_padded_to=int(d["zero_padded_to"]) if d.get("zero_padded_to") else None,
            four_digit_year=bool(d.get("four_digit_year", False)),
        )
        for d in raw["id_documents"]  # type: ignore[attr-defined]
    )
    thresholds = tuple(
        Threshold(
            valid_from=date.fromisoformat(str(t["from"])),
            valid_until=date.fromisoformat(str(t["until"])) if t.get("until") else None,
            value=int(t["value"]),
            basis=str(t["basis"]),
        )
        for t in raw["thresholds"]  # type: ignore[attr-defined]
    )
    part = str(raw["annex_iii_part"])
    rule = str(raw["age_rule"])
    if part not in ("A", "B") or rule not in ("reached_on_signing_day", "reached_in_calendar_year"):
        raise ValueError(f"bad rules for {raw['code']}: part {part!r}, age rule {rule!r}")
    postcode = raw.get("postcode_format")
    return MemberState(
        code=str(raw["code"]),
        iso_code=str(raw["iso_code"]),
        name_en=str(raw["name_en"]),
        official_languages=tuple(raw["official_languages"]),  # type: ignore[arg-type]
        annex_iii_part=part,  # type: ignore[arg-type]
        min_age=int(raw["min_age"]),  # type: ignore[call-overload]
        age_rule=rule,  # type: ignore[arg-type]
        id_documents=documents,
        postcode_format=_whole(str(postcode)) if postcode else None,
        thresholds=thresholds,
        postcode_prefixes=tuple(dict.fromkeys(
            (*country_prefixes, *(str(sign) for sign in raw.get("postcode_signs", ())))  # type: ignore[attr-defined]
        )),
        postcode_written=str(raw["postcode_written"]) if raw.get("postcode_written") else None,
    )


@lru_cache(maxsize=1)
def _all() -> dict[str, MemberState]:
    with _DATA_FILE.open(encoding="utf-8") as handle:
        data = json.load(handle)
    states = {raw["code"]: _parse(raw) for raw in data["member_states"]}
    if len(states) != 27:
        raise ValueError(f"{_DATA_FILE} must hold the 27 Member States, holds {len(states)}")
    return states


def all_member_states() -> tuple[MemberState, ...]:
    """The 27 Member States in the EU's protocol order (the order of the data file)."""
    return tuple(_all().values())


def member_state(code: str) -> MemberState | None:
    """The Member State with this EU code (case-insensitive; "GR" is taken as Greece), or None."""
    code = code.upper()
    if code == "GR":
        code = "EL"
    return _all().get(code)


def member_state_codes() -> frozenset[str]:
    return frozenset(_all())
