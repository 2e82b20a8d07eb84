"""A citizen's form is used once: sending it again gets a fresh form and says why, in their language,
and neither that answer nor any log line tells whether the person had signed before."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import date
from typing import Any
from urllib.parse import urlencode

import pytest
from chalice.test import Client

import app as app_module
from chalicelib import services
from tests.fakes import signing_services
from tests.unit import specimens

DAY = date(2026, 11, 27)
FORM = {"content-type": "application/x-www-form-urlencoded"}


def _citizen(birth_year: int) -> dict[str, str]:
    return {"full_first_names": "Zofia", "family_names": "Wiśniewska", "id_type": "national.id.number",
            "id_number": specimens.pesel(date(birth_year, 5, 17)), "privacy_accepted": "yes", "homepage": ""}


@pytest.fixture
def signing() -> Iterator[tuple[Client, Any]]:
    current = signing_services(DAY)
    services.use(current)
    with Client(app_module.app) as client:
        yield client, current
    services.use(None)


def _token(client: Client, lang: str = "pl") -> str:
    page = client.http.get(f"/sign/PL?lang={lang}")
    found = re.search(r'name="form_token" value="([^"]+)"', page.body.decode())
    assert found
    return found.group(1)


def _post(client: Client, token: str, fields: dict[str, str], lang: str = "pl") -> Any:
    body = urlencode({"form_token": token, "lang": lang, **fields})
    return client.http.post(f"/sign/PL?lang={lang}", headers=FORM, body=body)


def test_form_sent_twice_stores_once_and_the_second_gets_a_fresh_form_saying_why(
    signing: tuple[Client, Any],
) -> None:
    client, current = signing
    token = _token(client)

    first = _post(client, token, _citizen(1980))
    again = _post(client, token, _citizen(1981))

    assert first.status_code == 200
    assert again.status_code == 409
    page = again.body.decode()
    assert "Ten formularz został już raz wysłany" in page  # Polish, the form's language
    fresh = re.search(r'name="form_token" value="([^"]+)"', page)
    assert fresh and fresh.group(1) != token
    assert "Wiśniewska" in page  # what they typed is kept
    assert len(current.store.statements) == 1
    assert _post(client, fresh.group(1), _citizen(1981)).status_code == 200
    assert len(current.store.statements) == 2


def test_one_form_cannot_carry_fifty_people(signing: tuple[Client, Any]) -> None:
    client, current = signing
    token = _token(client, "en")

    answers = [_post(client, token, _citizen(1940 + n), "en").status_code for n in range(50)]

    assert answers == [200] + [409] * 49
    assert len(current.store.statements) == 1


def test_reusing_a_token_answers_alike_whether_its_first_use_was_a_duplicate_or_not(
    signing: tuple[Client, Any],
) -> None:
    client, _ = signing
    assert _post(client, _token(client), _citizen(1970)).status_code == 200  # someone signs

    answers = []
    for first_person in (_citizen(1970), _citizen(1971)):  # a duplicate, then a new person
        token = _token(client)
        receipt = _post(client, token, first_person)
        reuse = _post(client, token, _citizen(1990 + len(answers)))
        answers.append((receipt.status_code, reuse.status_code))

    assert answers == [(200, 409), (200, 409)]


def test_no_log_line_tells_a_second_signature_from_a_first(
    signing: tuple[Client, Any], caplog: pytest.LogCaptureFixture
) -> None:
    client, current = signing

    def log_of_signing() -> list[str]:
        token = _token(client)
        caplog.clear()
        with caplog.at_level(logging.DEBUG):
            assert _post(client, token, _citizen(1975)).status_code == 200
        return [record.getMessage() for record in caplog.records]

    first, second = log_of_signing(), log_of_signing()

    assert len(current.store.statements) == 1  # the second was a duplicate
    assert first == second
