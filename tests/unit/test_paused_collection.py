"""When the organisers pause collection, every form says so in its language and statements are refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from chalice.test import Client

import app as app_module
from chalicelib import services
from chalicelib.console.records import CollectionState
from chalicelib.console.state_cache import CachedCollectionState
from chalicelib.web.i18n import SUPPORTED_LANGUAGES, translations
from tests.fakes import InMemoryStatementStore, web_only_services

COLLECTING = date(2026, 11, 27)
PAUSED_HEADING = "Collection is paused"
FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.fixture
def wired() -> Iterator[Any]:
    current = web_only_services(COLLECTING, {"PL": 3})
    current.__dict__["store"] = InMemoryStatementStore()
    services.use(current)
    yield current
    services.use(None)


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_paused_form_says_so_in_the_visitors_language_and_offers_no_form(wired: Any, language: str) -> None:
    wired.collection_states.paused = True

    with Client(app_module.app) as client:
        page = client.http.get(f"/sign/DE?lang={language}")

    heading = translations(language).gettext(PAUSED_HEADING)
    assert page.status_code == 200
    assert f"<h1>{heading}</h1>".encode() in page.body
    assert language == "en" or heading != PAUSED_HEADING, "translated"
    assert b'name="form_token"' not in page.body


def test_statement_sent_while_paused_is_refused_and_nothing_is_stored(wired: Any) -> None:
    with Client(app_module.app) as client:
        token_page = client.http.get("/sign/PL?lang=en")
        assert b'name="form_token"' in token_page.body
        wired.collection_states.paused = True

        refused = client.http.post("/sign/PL?lang=en", headers=FORM,
                                   body="full_first_names=Zofia&family_names=Nowak&id_number=44051401359")

    assert refused.status_code == 503
    assert b"Collection is paused" in refused.body
    assert wired.store.statements == {}


def test_resumed_collection_shows_the_form_again(wired: Any) -> None:
    wired.collection_states.paused = True
    with Client(app_module.app) as client:
        assert b'name="form_token"' not in client.http.get("/sign/PL?lang=en").body
        wired.collection_states.paused = False
        assert b'name="form_token"' in client.http.get("/sign/PL?lang=en").body


def test_state_is_read_once_per_cache_period_however_many_statements_arrive() -> None:
    reads: list[str] = []
    now = [1000.0]

    def read(initiative_id: str) -> CollectionState:
        reads.append(initiative_id)
        return CollectionState(paused=len(reads) > 1)

    cached = CachedCollectionState(read, period_seconds=3, clock=lambda: now[0])
    first = [cached.state("demo").paused for _ in range(500)]
    now[0] += 3
    after_the_period = cached.state("demo").paused

    assert reads == ["demo", "demo"]
    assert first == [False] * 500
    assert after_the_period is True, "a pause reaches this process within one period"


def test_state_table_unreachable_keeps_the_last_known_state() -> None:
    now = [0.0]
    answers: list[Any] = [CollectionState(paused=True), OSError("timeout")]

    def read(initiative_id: str) -> CollectionState:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[no-any-return]

    cached = CachedCollectionState(read, period_seconds=3, clock=lambda: now[0])
    assert cached.state("demo").paused
    now[0] = 10.0

    assert cached.state("demo").paused, "still paused, not open because the table did not answer"



class UnreachableStates:
    """The console table does not answer, and this instance has not read the state yet (a cold start)."""

    def state(self, initiative_id: str) -> Any:
        raise ConnectionError("console table unreachable")


def test_statement_sent_when_the_collections_state_cannot_be_read_is_refused_and_nothing_is_stored(
    wired: Any,
) -> None:
    # Paused, or in the test phase, it would otherwise be taken as a live statement (and exported as one).
    wired.__dict__["collection_states"] = UnreachableStates()
    with Client(app_module.app) as client:
        assert b'name="form_token"' in client.http.get("/sign/PL?lang=en").body, "the form still shows"
        refused = client.http.post("/sign/PL?lang=en", headers=FORM,
                                   body="full_first_names=Zofia&family_names=Nowak&id_number=44051401359")

    assert refused.status_code == 503
    assert b"could not be stored just now, and nothing was stored" in refused.body
    assert wired.store.statements == {}
