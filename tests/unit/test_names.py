"""First names and family names: the EU's scripts are accepted, everything else is refused."""

from __future__ import annotations

import unicodedata

import pytest

from chalicelib.signing.form import NAME_MAX_LENGTH
from tests.unit.submissions import check, error_codes, valid_submission


@pytest.mark.parametrize(("typed", "stored"), [
    ("Łukasz", "Łukasz"),
    ("Šárka", "Šárka"),
    ("Ó Súilleabháin", "Ó Súilleabháin"),
    ("D'Arcy", "D'Arcy"),
    ("D’Arcy", "D’Arcy"),
    ("Jean-Luc", "Jean-Luc"),
    ("Γιώργος", "Γιώργος"),
    ("Иван", "Иван"),
    ("Ђорђе", "Ђорђе"),
    ("Müller-Lüdenscheidt", "Müller-Lüdenscheidt"),
    ("Þórður", "Þórður"),
    ("Straße", "Straße"),
    ("Ţepeş Ștefan", "Ţepeş Ștefan"),
    ("  Anna   Maria  ", "Anna Maria"),
    ("Anna\tMaria", "Anna Maria"),
    (unicodedata.normalize("NFD", "Šárka Dvořáková"), "Šárka Dvořáková"),
    ("Ė\u0303nė", "Ė\u0303nė"),
    ("Ɏɏ Ͽ ԯ a\u036f", "Ɏɏ Ͽ ԯ a\u036f"),
], ids=["polish-l", "czech", "irish-fadas", "apostrophe", "typographic-apostrophe", "hyphen", "greek",
        "cyrillic", "serbian-cyrillic", "umlauts", "icelandic", "sharp-s", "romanian-cedilla-and-comma",
        "spaces-collapsed", "tab-collapsed", "decomposed-input",
        "combining-mark-nfc-keeps", "last-letters-of-each-script-block"])
def test_citizen_with_a_name_in_an_eu_script_is_accepted_as_typed(typed: str, stored: str) -> None:
    result = check("PL", valid_submission("PL", full_first_names=typed, family_names=typed))

    assert result.errors == ()
    assert result.personal_data is not None
    assert result.personal_data.full_first_names == stored
    assert result.personal_data.family_names == stored
    assert unicodedata.is_normalized("NFC", result.personal_data.family_names)


@pytest.mark.parametrize("typed", [
    "Anna2", "R2-D2", "Anna 😀", "李雷", "محمد", "<script>", "Anna<b>", "Anna; DROP TABLE",
    "Anna@example", "-", "'", "Anna\x00", "\u200bAnna",
], ids=["digit", "digits", "emoji", "chinese", "arabic", "script-tag", "html", "semicolon", "at-sign",
        "only-hyphen", "only-apostrophe", "nul", "zero-width-space"])
def test_citizen_with_a_name_outside_the_eu_scripts_sees_name_characters(typed: str) -> None:
    result = check("PL", valid_submission("PL", family_names=typed))

    assert error_codes(result) == {"family_names": "name_characters"}


def test_citizen_with_a_name_of_100_letters_is_accepted() -> None:
    result = check("DE", valid_submission("DE", full_first_names="A" * NAME_MAX_LENGTH))

    assert result.errors == ()


def test_citizen_with_a_name_over_100_letters_sees_too_long() -> None:
    result = check("DE", valid_submission("DE", full_first_names="A" * (NAME_MAX_LENGTH + 1)))

    assert error_codes(result) == {"full_first_names": "too_long"}
    assert result.errors[0].params == {"max": NAME_MAX_LENGTH}


def test_name_length_is_counted_after_spaces_are_collapsed() -> None:
    typed = "Anna" + " " * 200 + "Maria"

    result = check("DE", valid_submission("DE", full_first_names=typed))

    assert result.errors == ()
    assert result.personal_data is not None
    assert result.personal_data.full_first_names == "Anna Maria"


def test_name_error_is_not_cleared_by_confirming_the_format() -> None:
    result = check("PL", valid_submission("PL", family_names="Anna2", format_confirmed="yes"))

    assert error_codes(result) == {"family_names": "name_characters"}
