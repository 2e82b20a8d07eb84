"""Every translation catalogue against a fresh extraction of the sources.

Each chalicelib/web/locale/<language>/LC_MESSAGES/messages.po is checked, so a new language is
covered as soon as its catalogue exists. The sources are extracted here, in-process, with the
method map of babel.cfg: a stale messages.pot cannot hide a missing message.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
LOCALE_DIR = ROOT / "chalicelib" / "web" / "locale"
CATALOGUES = sorted(LOCALE_DIR.glob("*/LC_MESSAGES/messages.po"))
LANGUAGES = [path.parents[1].name for path in CATALOGUES]

# Named explicitly rather than through the "babel.extractors" entry point, which Jinja2 may stop providing.
EXTRACTORS = {"jinja2": "jinja2.ext:babel_extract", "python": "python"}

# A translation may equal its English message id only where the translator says so with the
# translator comment "# same as English" above the entry (a word that is the same in that language).
# Anything else identical to the English is taken for untranslated English.
SAME_AS_ENGLISH_COMMENT = "same as English"

# Texts that must read in the citizen's language: the Annex III declaration and the privacy statement.
LEGAL_TEXTS = (
    "I hereby certify that the information that I have provided in this form is correct and that I have "
    "not already supported this proposed citizens' initiative.",
    "Privacy statement",
    "Controller: %(name)s, %(address)s, %(email)s.",
    "In accordance with Regulation (EU) 2016/679 (General Data Protection Regulation), the personal data you "
    "provide in this form will be used only to support this initiative and will be made available to the "
    "competent authority of the Member State you sign for, for the verification and certification of the "
    "number of valid statements of support this initiative has received (Article 12 of Regulation (EU) "
    "2019/788).",
    "Your data is encrypted on receipt. The organisers, as controller, will destroy all statements of support "
    "and any copies at the latest one month after submitting the initiative to the Commission, or 21 months "
    "after the start of the collection period, whichever is earlier. Where administrative or judicial "
    "proceedings require it, they may keep them until one week after those proceedings end.",
    "You have the right to access your personal data, to have it rectified or erased, and to restrict its "
    "processing. Ask the controller at the address above.",
    "You have the right to lodge a complaint with a data protection supervisory authority, in particular in "
    "the Member State of your habitual residence, place of work or place of the alleged infringement. The "
    "contact details of the supervisory authorities and of the competent national authorities are published "
    "in the Commission's register page of this initiative.",
)

# The errors that send the citizen to a checkbox quote the checkbox's label: the quotation must stay
# the start of the label's translation.
CHECKBOX_LABEL = (
    "The format is correct: I have checked my personal identification number, document number or postal code."
)
QUOTED_LABEL = "“The format is correct”"

# %(name)s, %% and any other %: the conversions Python's % operator (and Jinja's newstyle gettext) sees.
CONVERSION = re.compile(r"%(?:\((\w+)\)s|%)|%")
QUOTATION = re.compile(r"[«“„»‚‘”\"]\s*(.+?)\s*[»”“«‘’\"]")


def _conversions(text: str) -> list[str]:
    """The conversions in `text`, as written; a stray % shows as "%"."""
    return sorted(match.group(0) for match in CONVERSION.finditer(text))


@cache
def fresh_extraction() -> Catalog:
    with (ROOT / "babel.cfg").open(encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config, filename=str(ROOT / "babel.cfg"))
    method_map = [(pattern, EXTRACTORS.get(method, method)) for pattern, method in method_map]
    catalog = Catalog(domain="messages")
    for filename, lineno, message, comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, strip_comment_tags=True
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


@cache
def catalogue(language: str) -> Catalog:
    with (LOCALE_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return read_po(po, locale=language, domain="messages")


def _translations(language: str) -> list[tuple[str, str]]:
    """(English, translation) for every translated text of the catalogue.

    A plural entry gives one pair per form, each against the English plural (Jinja's ngettext also
    passes %(num)s, which a form may use or leave out, as "1" in some languages).
    """
    pairs = []
    for message in catalogue(language):
        if not message.id:
            continue
        if isinstance(message.id, str) and isinstance(message.string, str):
            pairs.append((message.id, message.string))
        elif isinstance(message.id, tuple) and isinstance(message.string, tuple):
            pairs.extend((message.id[1], form) for form in message.string)
    return pairs


def test_every_supported_language_has_a_catalogue_and_no_other() -> None:
    from chalicelib.web.i18n import SOURCE_LANGUAGE, SUPPORTED_LANGUAGES

    assert sorted(LANGUAGES) == sorted(set(SUPPORTED_LANGUAGES) - {SOURCE_LANGUAGE})


def test_extraction_finds_the_texts_of_code_and_templates() -> None:
    ids = {message.id for message in fresh_extraction() if message.id}
    assert "Full first names" in ids  # chalicelib/web/messages.py
    assert CHECKBOX_LABEL in ids  # templates/form.html
    assert all(text in ids for text in LEGAL_TEXTS), "a legal text changed: update LEGAL_TEXTS"
    assert any(QUOTED_LABEL in text for text in ids if isinstance(text, str)), "update QUOTED_LABEL"


@pytest.mark.parametrize("language", LANGUAGES)
def test_header(language: str) -> None:
    po = catalogue(language)
    assert str(po.locale) == language
    assert po.charset.lower() == "utf-8"
    assert po.num_plurals >= 1
    assert not po.fuzzy, "the catalogue's header is marked fuzzy"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_extracted_message_is_translated(language: str) -> None:
    po = catalogue(language)
    missing, untranslated, fuzzy = [], [], []
    for source in fresh_extraction():
        if not source.id:
            continue
        message = po.get(source.id, context=source.context)
        if message is None:
            missing.append(source.id)
        elif not (all(message.string) if isinstance(message.string, tuple) else message.string):
            untranslated.append(source.id)
        elif message.fuzzy:
            fuzzy.append(source.id)
    assert not missing, f"{language}: not in the catalogue (run `make extract`): {missing}"
    assert not untranslated, f"{language}: untranslated: {untranslated}"
    assert not fuzzy, f"{language}: fuzzy: {fuzzy}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_placeholders_are_those_of_the_message_id(language: str) -> None:
    plural_ids = {message.id[1] for message in catalogue(language) if isinstance(message.id, tuple)}
    wrong = [
        (message_id, translation)
        for message_id, translation in _translations(language)
        if translation
        and _conversions(translation) != _conversions(message_id)
        and not (message_id in plural_ids
                 and [c for c in _conversions(translation) if c != "%(num)s"]
                 == [c for c in _conversions(message_id) if c != "%(num)s"])
    ]
    assert not wrong, f"{language}: placeholders differ from the English (a literal % is written %%): {wrong}"


def _same_as_english(language: str) -> frozenset[str]:
    return frozenset(
        message.id[1] if isinstance(message.id, tuple) else message.id
        for message in catalogue(language)
        if message.id and SAME_AS_ENGLISH_COMMENT in message.user_comments
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_english_left(language: str) -> None:
    allowed = _same_as_english(language)
    same = [
        message_id
        for message_id, translation in _translations(language)
        if translation.strip() == message_id.strip() and message_id not in allowed
        and re.search(r"[^\W\d_]", CONVERSION.sub("", message_id))  # a text of placeholders only may stay
    ]
    assert not same, f"{language}: identical to the English; translate, or mark it '# same as English': {same}"


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("text", LEGAL_TEXTS, ids=lambda text: text[:30])
def test_declaration_and_privacy_statement_are_translated(language: str, text: str) -> None:
    message = catalogue(language).get(text)
    assert message is not None and message.string, f"{language}: missing {text!r}"
    assert message.string != text, f"{language}: left in English: {text!r}"
    assert not message.fuzzy


@pytest.mark.parametrize("language", LANGUAGES)
def test_errors_quote_the_checkbox_label_as_translated(language: str) -> None:
    po = catalogue(language)
    label = po.get(CHECKBOX_LABEL)
    assert label is not None and label.string
    for message_id, translation in _translations(language):
        if QUOTED_LABEL not in message_id:
            continue
        quoted = QUOTATION.findall(translation)
        assert quoted, f"{language}: the checkbox's label is not quoted in {translation!r}"
        assert any(label.string.startswith(quote) for quote in quoted), (
            f"{language}: {translation!r} quotes {quoted}, but the checkbox reads {label.string!r}"
        )
