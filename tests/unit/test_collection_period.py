"""The collection period includes its first and its last day (Art. 8 of Regulation (EU) 2019/788), and no other."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from urllib.parse import urlencode

import pytest
from chalice.test import Client

import app as app_module
from chalicelib import services
from tests.fakes import InMemoryStatementStore, ReversibleSealer, web_only_services

FORM = {"content-type": "application/x-www-form-urlencoded"}
POLISH_CITIZEN = {"full_first_names": "Zofia Maria", "family_names": "Wiśniewska-Kowal", "id_number": "44051401359",
                  "privacy_accepted": "yes"}
INITIATIVE = services.check_initiative_file()


def _client_on(day: date) -> Iterator[tuple[Client, InMemoryStatementStore]]:
    current = web_only_services(day, {})
    store = InMemoryStatementStore()
    current.__dict__["store"] = store
    current.__dict__["sealer"] = ReversibleSealer()
    services.use(current)
    with Client(app_module.app) as client:
        yield client, store
    services.use(None)


def _sign(client: Client) -> tuple[str, int, bytes]:
    form = client.http.get("/sign/PL?lang=en").body.decode()
    found = re.search(r'name="form_token" value="([^"]+)"', form)
    body = urlencode({"form_token": found.group(1) if found else "", "lang": "en", "homepage": "", **POLISH_CITIZEN})
    response = client.http.post("/sign/PL?lang=en", headers=FORM, body=body)
    return form, response.status_code, response.body


@pytest.fixture
def signing_day(request: pytest.FixtureRequest) -> Iterator[tuple[Client, InMemoryStatementStore]]:
    yield from _client_on(request.param)


@pytest.mark.parametrize("signing_day", [INITIATIVE.collection_start, INITIATIVE.collection_end],
                         ids=["first-day", "last-day"], indirect=True)
def test_citizen_signing_on_the_first_or_last_day_of_collection_gets_a_receipt(
        signing_day: tuple[Client, InMemoryStatementStore]) -> None:
    client, store = signing_day

    form, status, receipt = _sign(client)

    assert 'name="form_token"' in form
    assert status == 200 and re.search(rb"<code>\d{4}-\d{2}-\d{2}-[0-9a-f-]{36}</code>", receipt)
    assert len(store.statements) == 1


@pytest.mark.parametrize("signing_day", [INITIATIVE.collection_start - timedelta(days=1),
                                         INITIATIVE.collection_end + timedelta(days=1)],
                         ids=["day-before-start", "day-after-end"], indirect=True)
def test_citizen_outside_the_collection_period_finds_it_closed_and_nothing_is_stored(
        signing_day: tuple[Client, InMemoryStatementStore]) -> None:
    client, store = signing_day

    form, status, page = _sign(client)

    assert 'name="form_token"' not in form and "No statement of support can be submitted now" in form
    assert status == 403 and b"No statement of support can be submitted now" in page
    assert store.statements == {}


@pytest.mark.parametrize("day", [INITIATIVE.collection_start - timedelta(days=10), INITIATIVE.collection_start],
                         ids=["before-the-start", "on-the-start"])
def test_an_initiative_withdrawn_before_its_collection_began_says_closed_and_never_opens(day: date) -> None:
    current = web_only_services(day, {})
    current.__dict__["withdrawals"].day = INITIATIVE.collection_start - timedelta(days=20)
    services.use(current)
    with Client(app_module.app) as client:
        form = client.http.get("/sign/PL?lang=en")
    services.use(None)

    assert b"Collection is closed" in form.body and b"has not started" not in form.body
    assert b'name="form_token"' not in form.body
