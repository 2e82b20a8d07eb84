"""The initiative being collected for, read from the JSON file the organiser edits.

The file is checked as a whole at start-up; every problem is reported at once, by its path in the
file, so an organiser can fix it without reading code.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from chalicelib.xml_text import NOT_XML_CHARACTER

INITIATIVE_ID = re.compile(r"[a-z0-9][a-z0-9-]{1,39}")
# In the organisers' test phase statements are keyed under the id with this suffix (chalicelib/console): "~" is
# outside an id's alphabet, so the derived id never names another initiative. Keys may carry either.
TEST_PHASE_SUFFIX = "~test"
KEYED_INITIATIVE_ID = re.compile(INITIATIVE_ID.pattern + "(" + re.escape(TEST_PHASE_SUFFIX) + ")?")
LANGUAGE_CODE = re.compile(r"[a-z]{2}")
REGISTRATION_NUMBER = re.compile(r"ECI\(\d{4}\)\d{6}")
MAX_COLLECTION_MONTHS = 12  # Art. 8(1) Reg. (EU) 2019/788
MAX_START_DELAY_MONTHS = 6  # collection starts at most 6 months after registration


class InitiativeFileError(ValueError):
    def __init__(self, path: Path, problems: list[str]) -> None:
        self.problems = problems
        listing = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"{path} is not a valid initiative file:\n{listing}")


@dataclass(frozen=True)
class InitiativeText:
    title: str
    subject_matter: str
    main_objectives: str


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    country: str  # ISO code of residence


@dataclass(frozen=True)
class Controller:
    """Who controls the personal data: named in the privacy statement."""

    name: str
    address: str
    email: str


# OCS's number for the Annex III of Regulation (EU) 2019/788 (README, "Export format": 0 and 1 are
# the annexes of Regulation (EU) No 211/2011).
ANNEX_III_2019_788 = 2


@dataclass(frozen=True)
class Initiative:
    id: str  # carried by every item, counter and export path
    registration_number: str
    registration_date: date
    commission_register_url: str
    website: str
    collection_start: date
    collection_end: date
    original_language: str
    texts: Mapping[str, InitiativeText]
    organisers: tuple[Person, ...]
    contact_persons: tuple[Person, ...]
    controller: Controller
    annex_revision: int  # which version of Annex III the forms follow
    # The day the organisers submitted the initiative to the Commission, once they have: it starts the
    # one month after which every statement must be destroyed (Art. 19, Regulation (EU) 2019/788).
    submitted_to_commission: date | None = None

    def text(self, language: str) -> tuple[InitiativeText, str]:
        """The texts in `language`, else in the original language; with the language actually used."""
        if language in self.texts:
            return self.texts[language], language
        return self.texts[self.original_language], self.original_language

    def collecting_on(self, day: date) -> bool:
        return self.collection_start <= day <= self.collection_end

    def withdrawn_on(self, day: date) -> Initiative:
        """As it stands once the organisers withdrew it on `day`: collection ended the day before (and, if it
        had not begun, never starts)."""
        return replace(self, collection_start=min(self.collection_start, day),
                       collection_end=min(self.collection_end, day - timedelta(days=1)))


def add_months(day: date, months: int) -> date:
    """The same day `months` later; the month's last day when it has no such day (31 Jan + 1 = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for last_day in (day.day, 30, 29, 28):
        try:
            return date(year, month, last_day)
        except ValueError:
            continue
    raise ValueError(day)


class _Reader:
    """Reads typed values out of the parsed JSON, collecting problems instead of stopping at the first."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def string(self, data: Mapping[str, Any], key: str, where: str, pattern: re.Pattern[str] | None = None,
               max_length: int = 2000) -> str:
        value = data.get(key)
        path = f"{where}{key}"
        if not isinstance(value, str) or not value.strip():
            self.problems.append(f"{path}: required text is missing")
            return ""
        if len(value) > max_length:
            self.problems.append(f"{path}: longer than {max_length} characters")
        if pattern is not None and not pattern.fullmatch(value):
            self.problems.append(f"{path}: {value!r} does not match {pattern.pattern}")
        unwritable = NOT_XML_CHARACTER.search(value)
        if unwritable is not None:  # every export file carries the texts: one would fail every State's export
            self.problems.append(f"{path}: holds U+{ord(unwritable.group()):04X}, a control character the export "
                                 "files' XML cannot carry")
        return value.strip()

    def url(self, data: Mapping[str, Any], key: str, where: str) -> str:
        value = self.string(data, key, where)
        if value and not value.startswith("https://"):
            self.problems.append(f"{where}{key}: must be an https:// address")
        return value

    def day(self, data: Mapping[str, Any], key: str, where: str) -> date:
        value = self.string(data, key, where)
        try:
            return date.fromisoformat(value)
        except ValueError:
            if value:
                self.problems.append(f"{where}{key}: {value!r} is not a date (YYYY-MM-DD)")
            return date.min

    def mapping(self, data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
        value = data.get(key)
        if not isinstance(value, dict):
            self.problems.append(f"{where}{key}: required object is missing")
            return {}
        return value

    def people(self, data: Mapping[str, Any], key: str) -> tuple[Person, ...]:
        value = data.get(key)
        if not isinstance(value, list) or not value:
            self.problems.append(f"{key}: at least one person is required")
            return ()
        people = []
        for index, raw in enumerate(value):
            where = f"{key}[{index}]."
            if not isinstance(raw, dict):
                self.problems.append(f"{key}[{index}]: must be an object")
                continue
            people.append(Person(self.string(raw, "name", where), self.string(raw, "email", where),
                                 self.string(raw, "country", where, re.compile(r"[A-Z]{2}"))))
        return tuple(people)


def parse_initiative(data: Mapping[str, Any], path: Path) -> Initiative:
    read = _Reader()
    initiative_id = read.string(data, "id", "", INITIATIVE_ID)
    registration_date = read.day(data, "registration_date", "")
    collection = read.mapping(data, "collection", "")
    start = read.day(collection, "start", "collection.")
    end = read.day(collection, "end", "collection.")
    original_language = read.string(data, "original_language", "", LANGUAGE_CODE)
    texts: dict[str, InitiativeText] = {}
    for language, raw in read.mapping(data, "texts", "").items():
        where = f"texts.{language}."
        if not LANGUAGE_CODE.fullmatch(language) or not isinstance(raw, dict):
            read.problems.append(f"texts.{language}: must be a two-letter language code holding an object")
            continue
        texts[language] = InitiativeText(
            title=read.string(raw, "title", where, max_length=200),
            subject_matter=read.string(raw, "subject_matter", where, max_length=800),
            main_objectives=read.string(raw, "main_objectives", where, max_length=5000),
        )
    if original_language and original_language not in texts:
        read.problems.append(f"texts: no texts in the original language {original_language!r}")
    controller_data = read.mapping(data, "controller", "")
    controller = Controller(
        name=read.string(controller_data, "name", "controller."),
        address=read.string(controller_data, "address", "controller."),
        email=read.string(controller_data, "email", "controller."),
    )
    revision = data.get("annex_revision", ANNEX_III_2019_788)
    if not isinstance(revision, int) or revision < 1:
        read.problems.append("annex_revision: must be a positive whole number")
        revision = 1
    initiative = Initiative(
        id=initiative_id,
        registration_number=read.string(data, "registration_number", "", REGISTRATION_NUMBER),
        registration_date=registration_date,
        commission_register_url=read.url(data, "commission_register_url", ""),
        website=read.url(data, "website", ""),
        collection_start=start,
        collection_end=end,
        original_language=original_language,
        texts=texts,
        organisers=read.people(data, "organisers"),
        contact_persons=read.people(data, "contact_persons"),
        controller=controller,
        annex_revision=revision,
        submitted_to_commission=_submission_day(read, data),
    )
    if date.min not in (start, end, registration_date):
        if end < start:
            read.problems.append("collection.end: is before collection.start")
        elif end >= add_months(start, MAX_COLLECTION_MONTHS):
            read.problems.append(f"collection.end: the collection period may last at most "
                                 f"{MAX_COLLECTION_MONTHS} months (end before {add_months(start, 12)})")
        if start < registration_date:
            read.problems.append("collection.start: is before registration_date")
        elif start > add_months(registration_date, MAX_START_DELAY_MONTHS):
            read.problems.append(f"collection.start: must be at most {MAX_START_DELAY_MONTHS} months "
                                 "after registration_date")
    submitted = initiative.submitted_to_commission
    if submitted is not None and date.min not in (start, end) and submitted <= end:
        read.problems.append("submitted_to_commission: must be after collection.end (the initiative is "
                             "submitted once the statements are verified)")
    if read.problems:
        raise InitiativeFileError(path, read.problems)
    return initiative


def _submission_day(read: _Reader, data: Mapping[str, Any]) -> date | None:
    """The optional submitted_to_commission date: absent or null until the organisers submit."""
    if data.get("submitted_to_commission") is None:
        return None
    day = read.day(data, "submitted_to_commission", "")
    return None if day == date.min else day


def load_initiative(path: Path) -> Initiative:
    try:
        with path.open(encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise InitiativeFileError(path, ["the file does not exist (set INITIATIVE_FILE)"]) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InitiativeFileError(path, [f"not valid JSON: {error}"]) from None
    if not isinstance(data, dict):
        raise InitiativeFileError(path, ["the file must hold one JSON object"])
    return parse_initiative(data, path)
