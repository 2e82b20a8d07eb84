"""Hostile submissions through the app's real routes, on in-memory fakes: nothing a sender puts in a POST
gets a 5xx, and every statement that gets a receipt re-validates from what was stored and goes through the
export writer as it is.

10,000 generated submissions per run (the settings below, the same in CI as on a laptop); set
HYPOTHESIS_SIGNING_EXAMPLES to run more.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import re
from collections.abc import Iterator
from datetime import date
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from chalice.test import Client
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from lxml import etree

import app as app_module
from chalicelib import services
from chalicelib.config import PROJECT_ROOT
from chalicelib.exporting.support_form import Signature, SupportFormHeader, SupportFormWriter
from chalicelib.rules.member_states import all_member_states, member_state
from chalicelib.signing.form import DATE_PARTS, form_spec
from chalicelib.signing.validate import validate
from chalicelib.web import i18n
from chalicelib.web.form_token import issue_token
from tests.fakes import ReversibleSealer, signing_services
from tests.unit import specimens
from tests.unit.submissions import VALID_ID_NUMBERS, valid_submission

DAY = date(2026, 11, 27)
EXAMPLES = int(os.environ.get("HYPOTHESIS_SIGNING_EXAMPLES", "10000"))
CODES = [state.code for state in all_member_states()]
FORM = "application/x-www-form-urlencoded"
RECEIPT_ID = re.compile(r"<code>(\d{4}-\d{2}-\d{2}-[0-9a-f-]{36})</code>")
PAYLOAD_TO_FIELD = {"full.first.names": "full_first_names", "family.names": "family_names", "street": "street",
                    "street.number": "street_number", "postal.code": "postal_code", "city": "city",
                    "country": "country"}

# Characters a hostile sender reaches for: controls, invisible and bidi marks, non-characters, markup,
# quotes, full-width and other scripts' digits, combining marks, emoji, separators, and plain ASCII.
_NASTY = ("\x00\x01\x08\t\n\r\x1b\x7f\x85\xa0\xad\u0300\u034f\u061c\u200b\u200c\u200d\u200e\u202e\u2028\u2060"
          "\u2066\ufeff\ufdd0\ufffe\uffff\U0001ffff\U0001f600<>&\"'`;%+#=.,-/·’ʼ١２３ＡΩжßİıǅ\u3000")
hostile_text = st.one_of(
    st.text(alphabet=st.sampled_from(_NASTY), max_size=12),
    st.text(max_size=40),  # any code point hypothesis likes (no surrogates: they cannot be UTF-8)
    st.text(alphabet=st.characters(codec="ascii"), max_size=40),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.text(alphabet="0123456789 -./+LVTHRSE", min_size=1, max_size=20),
    st.just("x" * 5000),
)


def _number_spellings(number: str, code: str) -> st.SearchStrategy[str]:
    """A real number as people and scripts might type it: spaced, prefixed, full-width, lower case, padded."""
    return st.sampled_from([
        number, f" {number} ", "-".join(number[i:i + 3] for i in range(0, len(number), 3)), "HR" + number,
        f"{code} {number}", number.lstrip("0"), "0" + number,
        "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in number), number.lower(), number + "\u200b",
        number[:6] + "+" + number[6:], "LV-" + number, "L-" + number, number[2:], "19" + number,
    ])


@st.composite
def submissions(draw: st.DrawFn) -> tuple[str, str, dict[str, str]]:
    code = draw(st.sampled_from(CODES))
    state = member_state(code)
    assert state is not None
    fields = valid_submission(code)
    if state.annex_iii_part == "B":
        document = draw(st.sampled_from(state.id_documents))
        fields["id_type"] = document.type
        real = VALID_ID_NUMBERS.get((code, document.type), "123456")
        birth = draw(st.dates(min_value=date(1890, 1, 1), max_value=date(2060, 12, 31)))
        dated = {"PL": specimens.pesel, "EE": specimens.baltic_personal_code, "LT": specimens.baltic_personal_code,
                 "RO": specimens.cnp, "BG": specimens.egn, "BE": specimens.belgian_national_number,
                 "SE": specimens.personnummer}.get(code)
        if dated is not None and draw(st.booleans()):
            with contextlib.suppress(ValueError, KeyError):  # a day no number is issued for, or an old century
                real = dated(birth)
        fields["id_number"] = draw(_number_spellings(real, code))
    else:
        fields["country"] = draw(st.sampled_from([state.iso_code, "US", "LU", "LV", "LT", "IE", "NL", "GB", "ZZ"]))
        birth = draw(st.dates(min_value=date(1890, 1, 1), max_value=date(2060, 12, 31)))
        fields.update({"date_of_birth_day": str(birth.day), "date_of_birth_month": str(birth.month),
                       "date_of_birth_year": str(birth.year)})
        fields["postal_code"] = draw(st.sampled_from(["L-1661", "1661", "LV-1050", "D02 X285", "1234 AB",
                                                      "75001", "10115", "SW1A 1AA", "12", "!!!!!",
                                                      "D-10115", "SE-111 22", "MTVLT1117", "FIN-00100"]))
    # Then the attack: any field replaced with hostile text, the format box ticked or not.
    names = sorted(form_spec(state).input_names)
    attacked = draw(st.lists(st.sampled_from(names), max_size=3, unique=True)) if draw(st.booleans()) else []
    for name in attacked:
        fields[name] = draw(hostile_text)
    if draw(st.booleans()):
        fields["format_confirmed"] = "yes"
    language = draw(st.sampled_from(["en", "pl", "de", "el", "bg", "ga"]))
    return code, language, fields


def _body(extra: list[tuple[str, str]], fields: dict[str, str]) -> bytes:
    """The form urlencoded as a browser does it, with any extra (often unknown or repeated) fields after it."""
    return urlencode(list(fields.items()) + extra, quote_via=quote).encode("ascii")


raw_bodies = st.one_of(
    st.binary(max_size=300),
    st.text(alphabet="=&%+abcdefghijklmnopqrstuvwxyz_0123456789ABCDEF", max_size=300).map(str.encode),
    st.sampled_from([b"%", b"%zz", b"a=%ED%A0%80", b"a=%C0%AF", b"==&&", b"full_first_names=" + b"A" * 20000]),
)


def _one_in(n: int, strategy: st.SearchStrategy[Any], otherwise: Any) -> st.SearchStrategy[Any]:
    """`strategy` one time in n, else `otherwise`: hypothesis's one_of does not weigh repeated choices."""
    return st.integers(0, n - 1).flatmap(lambda pick: strategy if pick == 0 else st.just(otherwise))


@pytest.fixture(scope="module")
def signing() -> Iterator[tuple[Client, Any]]:
    current = signing_services(DAY)
    services.use(current)
    with Client(app_module.app) as client:
        yield client, current
    services.use(None)


@functools.cache
def _support_form_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(PROJECT_ROOT / "chalicelib" / "exporting" / "support_form.xsd")))


def _revalidates_and_exports(current: Any, statement_id: str) -> None:
    record = current.store.statements[statement_id]
    payload = ReversibleSealer.open(record.sealed)["payload"]
    state = member_state(record.member_state)
    assert state is not None
    properties: dict[str, str] = payload["properties"]
    submitted = {"privacy_accepted": "yes", "format_confirmed": "yes"}
    for key, value in properties.items():
        if key == "date.of.birth":
            submitted.update(zip((f"date_of_birth_{part}" for part in DATE_PARTS),
                                 reversed(value.split("-")), strict=True))
        elif key in PAYLOAD_TO_FIELD:
            submitted[PAYLOAD_TO_FIELD[key]] = value
        else:
            submitted.update(id_type=key, id_number=value)
    again = validate(form_spec(state), submitted, DAY, i18n.country_codes())
    assert again.errors == (), (record.member_state, again.errors)
    assert again.personal_data is not None
    assert json.loads(again.personal_data.to_payload()) == payload, "the stored form is the canonical one"

    sink = io.BytesIO()
    writer = SupportFormWriter(sink)
    writer.start(SupportFormHeader.for_initiative(current.initiative, record.member_state, record.form_language))
    writer.add(Signature(record.submitted_on, record.statement_id, record.annex_revision, properties))
    writer.finish()
    assert _support_form_schema().validate(etree.fromstring(sink.getvalue())), "valid against support_form.xsd"


@settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(submission=submissions(),
       extra=_one_in(5, st.lists(st.tuples(hostile_text, hostile_text), min_size=1, max_size=2), []),
       token_kind=st.sampled_from(["fresh"] * 16 + ["replayed", "garbled", "missing", "other_state"]),
       raw=_one_in(10, raw_bodies, None),  # one body in ten is not a form's at all
       content_type=st.sampled_from([FORM] * 40 + [f"{FORM}; charset=latin-1", "text/plain", "", "multipart/x"]))
def test_no_hostile_submission_gets_a_5xx_and_every_receipt_is_for_a_statement_that_exports(
    signing: tuple[Client, Any], submission: tuple[str, str, dict[str, str]], extra: list[tuple[str, str]],
    token_kind: str, raw: bytes | None, content_type: str,
) -> None:
    client, current = signing
    code, language, fields = submission
    now = current.now()
    token = {"fresh": issue_token(current.form_token_key, code, now),
             "replayed": current.__dict__.setdefault("last_token", issue_token(current.form_token_key, code, now)),
             "garbled": issue_token(current.form_token_key, code, now)[:-2] + "A_",
             "missing": "",
             "other_state": issue_token(current.form_token_key, "DE" if code != "DE" else "FR", now)}[token_kind]
    fields = {"form_token": token, "lang": language, "homepage": "", **fields}
    body = raw if raw is not None else _body(extra, fields)
    headers = {"content-type": content_type} if content_type else {}

    response = client.http.post(f"/sign/{code}?lang={language}", headers=headers, body=body)

    assert response.status_code < 500, response.body[:500]
    event(f"HTTP {response.status_code}")  # pytest --hypothesis-show-statistics: how far the attacks got
    found = RECEIPT_ID.search(response.body.decode("utf-8"))
    assert (found is not None) == (response.status_code == 200 and b'class="receipt"' in response.body)
    if found and found.group(1) in current.store.statements:  # else a duplicate: same receipt, nothing stored
        _revalidates_and_exports(current, found.group(1))
    if token_kind == "fresh":
        current.__dict__["last_token"] = token
