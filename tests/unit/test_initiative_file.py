"""The organiser's initiative file: the demo loads; each mistake is reported by its path in the file."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from chalicelib.initiative import InitiativeFileError, load_initiative, parse_initiative

DEMO_FILE = Path(__file__).resolve().parents[2] / "initiatives" / "demo.json"
DEMO: dict[str, Any] = json.loads(DEMO_FILE.read_text(encoding="utf-8"))


def _problems_after(change: Callable[[dict[str, Any]], None]) -> list[str]:
    data = copy.deepcopy(DEMO)
    change(data)
    with pytest.raises(InitiativeFileError) as raised:
        parse_initiative(data, Path("initiative.json"))
    assert "initiative.json is not a valid initiative file" in str(raised.value)
    return raised.value.problems


def test_organiser_running_the_demo_file_gets_its_initiative() -> None:
    initiative = load_initiative(DEMO_FILE)

    assert initiative.id == "demo-2026"
    assert initiative.registration_number == "ECI(2026)000042"
    assert initiative.collection_start == date(2026, 9, 1)
    assert initiative.collection_end == date(2027, 8, 31)
    assert initiative.text("fr")[1] == "fr"
    assert initiative.text("de")[1] == "de"
    assert initiative.text("xx") == (initiative.texts["en"], "en")  # a language without texts: the original
    assert initiative.collecting_on(date(2026, 9, 1))
    assert not initiative.collecting_on(date(2027, 9, 1))
    assert len(initiative.organisers) == 7


def _set(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = data
        for key in parents:
            target = target[key]
        if value is _DELETE:
            del target[last]
        else:
            target[last] = value
    return change


_DELETE = object()


@pytest.mark.parametrize(("change", "expected_path"), [
    (_set("texts.en.title", _DELETE), "texts.en.title"),
    (_set("texts.en.title", "   "), "texts.en.title"),
    (_set("texts.fr.title", "x" * 201), "texts.fr.title"),
    (_set("website", "http://example.org/clean-rivers"), "website"),
    (_set("commission_register_url", "http://citizens-initiative.europa.eu/x"), "commission_register_url"),
    (_set("collection.end", "2027-09-01"), "collection.end"),
    (_set("collection.end", "2026-08-31"), "collection.end"),
    (_set("collection.start", "2026-06-30"), "collection.start"),
    (_set("collection.start", "2027-01-02"), "collection.start"),
    (_set("collection.start", "1 September 2026"), "collection.start"),
    (_set("registration_number", "ECI(2026)42"), "registration_number"),
    (_set("registration_number", "2026/000042"), "registration_number"),
    (_set("registration_date", _DELETE), "registration_date"),
    (_set("id", "Demo 2026"), "id"),
    (_set("original_language", "xx"), "texts"),
    (_set("organisers", []), "organisers"),
    (_set("controller", "someone"), "controller"),
    (_set("annex_revision", 0), "annex_revision"),
], ids=["title-missing", "title-blank", "title-too-long", "http-website", "http-register-url",
        "collection-over-12-months", "end-before-start", "start-before-registration",
        "start-over-6-months-after-registration", "start-not-iso", "short-registration-number",
        "registration-number-shape", "registration-date-missing", "id-with-space", "no-original-language-texts",
        "no-organisers", "controller-not-object", "annex-revision-zero"])
def test_organiser_with_a_mistake_in_the_file_is_told_where_it_is(
        change: Callable[[dict[str, Any]], None], expected_path: str) -> None:
    problems = _problems_after(change)

    assert any(problem.startswith(f"{expected_path}:") for problem in problems), problems


@pytest.mark.parametrize("text", ["Clean\x01rivers", "Clean rivers\x0b", "Clean \ufffe rivers"])
def test_organiser_with_a_character_the_export_cannot_write_is_told_before_any_export(text: str) -> None:
    # Every export file carries the initiative's texts: one such character would fail every State's export.
    problems = _problems_after(_set("texts.de.title", text))

    assert [problem for problem in problems if problem.startswith("texts.de.title:")] == [
        f"texts.de.title: holds U+{ord(next(c for c in text if c not in 'Clean rivers')):04X}, a control character "
        "the export files' XML cannot carry"]


def test_initiative_texts_keep_line_breaks_tabs_and_every_script() -> None:
    data = copy.deepcopy(DEMO)
    _set("texts.el.main_objectives", "Καθαρά\tποτάμια\r\nγια όλους 🌊")(data)

    initiative = parse_initiative(data, Path("initiative.json"))

    assert initiative.text("el")[0].main_objectives == "Καθαρά\tποτάμια\r\nγια όλους 🌊"


def test_collection_of_exactly_12_months_and_start_6_months_after_registration_is_accepted() -> None:
    data = copy.deepcopy(DEMO)
    data["collection"] = {"start": "2027-01-01", "end": "2027-12-31"}  # registered 2026-07-01

    initiative = parse_initiative(data, Path("initiative.json"))

    assert initiative.collection_end == date(2027, 12, 31)


def test_organiser_with_several_mistakes_sees_all_of_them_at_once() -> None:
    def change(data: dict[str, Any]) -> None:
        del data["texts"]["en"]["title"]
        data["website"] = "http://example.org"
        data["registration_number"] = "nope"

    problems = _problems_after(change)

    assert {problem.split(":")[0] for problem in problems} >= {"texts.en.title", "website", "registration_number"}


def test_organiser_with_a_broken_json_file_is_told_it_is_not_json(tmp_path: Path) -> None:
    broken = tmp_path / "initiative.json"
    broken.write_text('{"id": "demo-2026",', encoding="utf-8")

    with pytest.raises(InitiativeFileError) as raised:
        load_initiative(broken)

    assert str(broken) in str(raised.value)
    assert raised.value.problems[0].startswith("not valid JSON")


def test_organiser_with_a_json_list_is_told_the_file_must_hold_an_object(tmp_path: Path) -> None:
    listing = tmp_path / "initiative.json"
    listing.write_text("[]", encoding="utf-8")

    with pytest.raises(InitiativeFileError, match="one JSON object"):
        load_initiative(listing)


def test_organiser_pointing_at_a_missing_file_is_told_to_set_initiative_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.json"

    with pytest.raises(InitiativeFileError) as raised:
        load_initiative(missing)

    assert str(missing) in str(raised.value)
    assert "INITIATIVE_FILE" in str(raised.value)
