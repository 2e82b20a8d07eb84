"""The organisers try the system in a test phase, then go live: test statements are kept apart by key and all
deleted on going live, resumably, with statements refused meanwhile; the test phase never comes back."""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest
from chalice.test import Client

import app as app_module
from chalicelib import services
from chalicelib.config import Settings
from chalicelib.console.records import initiative_id_in_test_phase
from chalicelib.storage.console_table import state_key
from tests.integration.organiser_console import create_account, csrf_of, first_sign_in, get_as, post_as

SIGNING_DAY = date(2026, 11, 27)
FORM = {"content-type": "application/x-www-form-urlencoded"}
PEOPLE = [{"full_first_names": "Zofia", "family_names": "Nowak", "id_number": number, "privacy_accepted": "yes"}
          for number in ("44051401359", "02070803628", "97031003029")]
_numbers = itertools.count()


@pytest.fixture
def now() -> list[float]:
    import time

    return [time.time()]  # the clock the counts' cache and the session's expiry are read by


@pytest.fixture
def client(empty_tables: Settings, now: list[float]) -> Iterator[Client]:
    dynamodb = boto3.client("dynamodb", region_name=empty_tables.region)
    dynamodb.delete_item(TableName=empty_tables.console_table, Key=state_key(services.check_initiative_file().id))
    services.use(services.Services(empty_tables, services.check_initiative_file(), today=lambda: SIGNING_DAY,
                                   now=lambda: now[0]))
    with Client(app_module.app) as test_client:
        yield test_client
    services.use(None)
    dynamodb.delete_item(TableName=empty_tables.console_table, Key=state_key(services.check_initiative_file().id))


@pytest.fixture
def organiser(empty_tables: Settings, client: Client) -> str:
    return first_sign_in(client, create_account(empty_tables, f"tester{next(_numbers)}@example.org", "organiser"))


def _sign(client: Client, person: dict[str, str]) -> Any:
    form = client.http.get("/sign/PL?lang=en")
    token = re.search(rb'name="form_token" value="([^"]+)"', form.body)
    assert token, form.body[:300]
    return client.http.post("/sign/PL?lang=en", headers=FORM, body=urlencode(
        {"form_token": token.group(1).decode(), "lang": "en", "homepage": "", **person}))


def _phase(client: Client, session: str, action: str, **fields: str) -> Any:
    return post_as(client, session, "/organiser/phase", csrf=csrf_of(client, session), action=action, **fields)


def _keys(settings: Settings, prefix: str) -> list[str]:
    dynamodb = boto3.client("dynamodb", region_name=settings.region)
    return [item["pk"]["S"] for item in dynamodb.scan(TableName=settings.statements_table)["Items"]
            if item["pk"]["S"].startswith(prefix)]


def _next_period(now: list[float], settings: Settings) -> None:
    now[0] += settings.counts_cache_seconds


def test_statements_in_the_test_phase_are_kept_apart_by_key_and_counted_apart(
    client: Client, organiser: str, empty_tables: Settings, now: list[float],
    statement_stream: Callable[[], list[dict[str, Any]]],
) -> None:
    initiative_id = services.current().initiative.id
    assert _phase(client, organiser, "start_test_phase").status_code == 303
    _next_period(now, empty_tables)

    assert _sign(client, PEOPLE[0]).status_code == 200

    assert _keys(empty_tables, f"S#{initiative_id}~test#PL#") and not _keys(empty_tables, f"S#{initiative_id}#")
    answer = client.lambda_.invoke("count_statements", {"Records": statement_stream()}).payload
    assert not answer.get("batchItemFailures")
    from chalicelib.storage.counters import DynamoDBCounterReader

    reader = DynamoDBCounterReader(boto3.client("dynamodb", region_name=empty_tables.region),
                                   empty_tables.counters_table)
    assert reader.counts(initiative_id_in_test_phase(initiative_id)) == {"PL": 1}
    assert reader.counts(initiative_id).get("PL", 0) == 0
    assert "1 counted so far" in get_as(client, organiser, "/organiser").body.decode()


def test_going_live_interrupted_refuses_statements_and_resumes_to_delete_every_test_statement(
    client: Client, organiser: str, empty_tables: Settings, now: list[float]
) -> None:
    initiative_id = services.current().initiative.id
    _phase(client, organiser, "start_test_phase")
    _next_period(now, empty_tables)
    for person in PEOPLE:
        assert _sign(client, person).status_code == 200
    assert len(_keys(empty_tables, f"S#{initiative_id}~test#")) == 3
    assert len(_keys(empty_tables, f"F#{initiative_id}~test#")) == 3

    # One batch, then the function is cut off: the state says going live, and the public forms refuse.
    first = services.current().console({"action": "go_live", "token": organiser, "arguments": {"batch": 2}})
    assert first == {"ok": True, "done": False, "deleted": 2}
    _next_period(now, empty_tables)
    assert b"<h1>Collection is paused</h1>" in client.http.get("/sign/PL?lang=en").body
    refused = client.http.post("/sign/PL?lang=en", headers=FORM, body=urlencode(PEOPLE[0]))
    assert refused.status_code == 503
    assert "Continue going live" in get_as(client, organiser, "/organiser").body.decode()

    resumed = _phase(client, organiser, "go_live", confirm="yes")

    assert resumed.status_code == 303 and resumed.headers["Location"] == "/organiser?done=live"
    assert _keys(empty_tables, f"S#{initiative_id}~test#") == []
    assert _keys(empty_tables, f"F#{initiative_id}~test#") == []
    _next_period(now, empty_tables)
    assert _sign(client, PEOPLE[0]).status_code == 200
    assert len(_keys(empty_tables, f"S#{initiative_id}#PL#")) == 1, "live now: the same person signs for real"
    log = csv.DictReader(io.StringIO(get_as(client, organiser, "/organiser/audit.csv").body.decode()))
    assert [row["action"] for row in log][:3] == ["go_live", "go_live_started", "start_test_phase"]


def test_test_phase_cannot_come_back_after_going_live(client: Client, organiser: str, empty_tables: Settings) -> None:
    _phase(client, organiser, "start_test_phase")
    _phase(client, organiser, "go_live", confirm="yes")

    again = _phase(client, organiser, "start_test_phase")

    assert again.status_code == 409
    assert b"the test phase cannot come back" in again.body


def test_going_live_needs_the_confirmation_and_changes_nothing_without_it(
    client: Client, organiser: str, empty_tables: Settings
) -> None:
    _phase(client, organiser, "start_test_phase")

    refused = _phase(client, organiser, "go_live")

    assert refused.status_code == 400
    assert "Test phase" in get_as(client, organiser, "/organiser").body.decode()


def test_no_test_phase_once_live_statements_exist(client: Client, organiser: str, empty_tables: Settings) -> None:
    assert _sign(client, PEOPLE[1]).status_code == 200

    refused = _phase(client, organiser, "start_test_phase")

    assert refused.status_code == 409
    assert b"already been collected live" in refused.body


def test_viewer_cannot_start_a_test_phase_or_go_live(client: Client, empty_tables: Settings) -> None:
    viewer = first_sign_in(client, create_account(empty_tables, f"watcher{next(_numbers)}@example.org", "viewer"))

    assert _phase(client, viewer, "start_test_phase").status_code == 403
    assert _phase(client, viewer, "go_live", confirm="yes").status_code == 403


def test_organisers_try_the_forms_in_a_test_phase_before_collection_opens(
    client: Client, organiser: str, empty_tables: Settings, now: list[float]
) -> None:
    initiative = services.current().initiative
    services.current().today = lambda: date(2026, 8, 20)
    assert initiative.collection_start > date(2026, 8, 20)
    assert b"form_token" not in client.http.get("/sign/PL?lang=en").body, "closed before the collection starts"

    _phase(client, organiser, "start_test_phase")
    _next_period(now, empty_tables)

    assert _sign(client, PEOPLE[0]).status_code == 200
    assert len(_keys(empty_tables, f"S#{initiative.id}~test#")) == 1
    assert _keys(empty_tables, f"S#{initiative.id}#") == []
    _phase(client, organiser, "go_live", confirm="yes")
    _next_period(now, empty_tables)
    assert b"form_token" not in client.http.get("/sign/PL?lang=en").body, "live, and still before the start"
    refused = client.http.post("/sign/PL?lang=en", headers=FORM, body=urlencode(PEOPLE[1]))
    assert refused.status_code == 403 and _keys(empty_tables, "S#") == []


def test_in_the_test_phase_an_organiser_deletes_a_test_statement_by_its_receipt(
    client: Client, organiser: str, empty_tables: Settings, now: list[float]
) -> None:
    initiative_id = services.current().initiative.id
    _phase(client, organiser, "start_test_phase")
    _next_period(now, empty_tables)
    receipt = _sign(client, PEOPLE[0])
    found = re.search(rb"<code>([0-9a-f-]{36,47})</code>", receipt.body)
    assert receipt.status_code == 200 and found

    deleted = post_as(client, organiser, "/organiser/statements/delete", csrf=csrf_of(client, organiser),
                      statement_id=found.group(1).decode(), reason="erasure_request")

    assert deleted.status_code == 200, deleted.body[:2000]
    assert b"test statement" in deleted.body
    assert _keys(empty_tables, f"S#{initiative_id}~test#") == []
    assert _keys(empty_tables, f"F#{initiative_id}~test#") == [], "the person may sign again"
    log = list(csv.DictReader(io.StringIO(get_as(client, organiser, "/organiser/audit.csv").body.decode())))
    assert log[0]["action"] == "delete_statement" and "test=yes" in log[0]["details"]


def test_in_the_test_phase_the_form_and_the_receipt_say_the_statement_is_a_test(
    client: Client, organiser: str, empty_tables: Settings, now: list[float]
) -> None:
    assert b'id="test-phase"' not in client.http.get("/sign/PL?lang=pl").body
    _phase(client, organiser, "start_test_phase")
    _next_period(now, empty_tables)

    form = client.http.get("/sign/PL?lang=pl").body.decode()
    receipt = _sign(client, PEOPLE[0]).body.decode()

    assert 'id="test-phase"' in form and "Faza testowa" in form
    assert 'id="test-phase"' in receipt and "Test phase:" in receipt  # _sign sends the form in English
    _phase(client, organiser, "go_live", confirm="yes")
    _next_period(now, empty_tables)
    assert b'id="test-phase"' not in client.http.get("/sign/PL?lang=pl").body
    assert b'id="test-phase"' not in _sign(client, PEOPLE[1]).body, "a live receipt, though one was kept for the day"


def test_in_the_test_phase_the_dashboard_opens_any_member_states_form(
    client: Client, organiser: str, empty_tables: Settings
) -> None:
    _phase(client, organiser, "start_test_phase")

    page = get_as(client, organiser, "/organiser").body.decode()

    chooser = re.search(r'<form method="get" action="/sign"[^>]*>(.*?)</form>', page, re.S)
    assert chooser, "before the collection opens, the public page has no way to the forms"
    assert len(re.findall(r'<option value="[A-Z]{2}"', chooser.group(1))) == 27
    opened = client.http.get("/sign?ms=BE&lang=en")
    assert opened.status_code == 303 and opened.headers["Location"] == "/sign/BE?lang=en"
