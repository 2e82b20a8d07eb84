"""Signing out of the console ends the session on the server: a copy of the session cookie taken before is
refused afterwards, on every page and every action, by the app (make run and AWS alike) and by Cognito."""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator

import boto3
import pytest
from chalice.test import Client

import app as app_module
from chalicelib import services
from chalicelib.config import Settings
from chalicelib.console.session import SESSION_COOKIE
from chalicelib.storage.console_table import state_key
from tests.integration.organiser_console import (
    Account,
    cookie_value,
    create_account,
    csrf_of,
    first_sign_in,
    get_as,
    post_as,
    set_cookies,
    sign_in,
)

_numbers = itertools.count()


@pytest.fixture
def client(aws_settings: Settings) -> Iterator[Client]:
    dynamodb = boto3.client("dynamodb", region_name=aws_settings.region)
    dynamodb.delete_item(TableName=aws_settings.console_table, Key=state_key(services.check_initiative_file().id))
    services.use(services.Services(aws_settings, services.check_initiative_file()))
    with Client(app_module.app) as test_client:
        yield test_client
    services.use(None)
    dynamodb.delete_item(TableName=aws_settings.console_table, Key=state_key(services.check_initiative_file().id))


@pytest.fixture
def organiser(aws_settings: Settings, client: Client) -> tuple[Account, str]:
    account = create_account(aws_settings, f"leaving{next(_numbers)}@example.org", "organiser")
    return account, first_sign_in(client, account)


def _paused() -> bool:
    return services.current().console_store.state(services.current().initiative.id).paused


def _sign_out(client: Client, session: str) -> object:
    return post_as(client, session, "/organiser/sign-out", csrf=csrf_of(client, session))


def test_after_signing_out_a_copied_session_cookie_opens_no_page(
    client: Client, organiser: tuple[Account, str]
) -> None:
    _, session = organiser

    signed_out = _sign_out(client, session)

    assert signed_out.status_code == 303  # type: ignore[attr-defined]
    assert signed_out.headers["Location"] == "/organiser/sign-in?signed_out=1"  # type: ignore[attr-defined]
    assert cookie_value(signed_out, SESSION_COOKIE) == ""
    assert any("Max-Age=0" in cookie for cookie in set_cookies(signed_out))
    for path in ("/organiser", "/organiser/audit", "/organiser/audit.csv"):
        replayed = get_as(client, session, path)
        assert replayed.status_code == 303, path
        assert replayed.headers["Location"] == "/organiser/sign-in"
    assert b"You are signed out" in client.http.get("/organiser/sign-in?signed_out=1").body


def test_after_signing_out_a_copied_session_cookie_changes_nothing(
    client: Client, organiser: tuple[Account, str]
) -> None:
    _, session = organiser
    csrf = csrf_of(client, session)  # the form's token, copied with the cookie
    _sign_out(client, session)

    replayed = post_as(client, session, "/organiser/collection", csrf=csrf, action="pause")

    assert replayed.status_code == 401
    assert b"Your session has ended" in replayed.body
    assert _paused() is False
    # The console function refuses it too, whoever hands it the token.
    answer = services.current().console({"action": "pause", "token": session, "arguments": {}})
    assert answer == {"ok": False, "refusal": "session"}
    assert _paused() is False


def test_cognito_refuses_the_signed_out_token_as_well(
    aws_settings: Settings, client: Client, organiser: tuple[Account, str]
) -> None:
    _, session = organiser
    cognito = boto3.client("cognito-idp", region_name=aws_settings.region)
    assert cognito.get_user(AccessToken=session)["Username"]

    _sign_out(client, session)

    with pytest.raises(cognito.exceptions.NotAuthorizedException):
        cognito.get_user(AccessToken=session)


def test_the_audit_log_records_the_sign_out_and_signing_in_again_works(
    client: Client, organiser: tuple[Account, str]
) -> None:
    account, session = organiser
    subject = services.current().organiser_tokens.verify(session).subject
    _sign_out(client, session)

    again = sign_in(client, account)

    assert get_as(client, again, "/organiser").status_code == 200
    log = csv.DictReader(io.StringIO(get_as(client, again, "/organiser/audit.csv").body.decode()))
    mine = [row["action"] for row in log if row["actor"] == subject]
    assert mine[:3] == ["sign_in", "sign_out", "sign_in"]


def test_signing_out_twice_with_the_same_cookie_just_sends_to_sign_in(
    client: Client, organiser: tuple[Account, str]
) -> None:
    _, session = organiser
    csrf = csrf_of(client, session)
    _sign_out(client, session)

    again = post_as(client, session, "/organiser/sign-out", csrf=csrf)

    assert again.status_code == 303 and again.headers["Location"] == "/organiser/sign-in"


def test_when_sign_outs_cannot_be_read_the_console_says_so_and_accepts_no_session(
    aws_settings: Settings, client: Client, organiser: tuple[Account, str]
) -> None:
    from dataclasses import replace

    _, session = organiser
    services.use(services.Services(replace(aws_settings, console_table="eci-test-no-such-table"),
                                   services.check_initiative_file()))

    page = get_as(client, session, "/organiser")
    action = post_as(client, session, "/organiser/collection", csrf="any", action="pause")
    signing_out = post_as(client, session, "/organiser/sign-out", csrf="any")

    assert page.status_code == action.status_code == signing_out.status_code == 503
    assert b"cannot reach its services" in page.body
    assert cookie_value(signing_out, SESSION_COOKIE) is None, "not signed out: the cookie stays"


def test_the_sign_out_record_expires_when_the_token_would_have_and_no_audit_entry_ever_expires(
    aws_settings: Settings, client: Client, organiser: tuple[Account, str]
) -> None:
    from chalicelib.console.tokens import CLOCK_SKEW_SECONDS
    from chalicelib.storage.console_table import EXPIRES_AT, signed_out_key

    _, session = organiser
    signed_in = services.current().organiser_tokens.verify(session)
    _sign_out(client, session)

    dynamodb = boto3.client("dynamodb", region_name=aws_settings.region)
    record = dynamodb.get_item(TableName=aws_settings.console_table, Key=signed_out_key(signed_in.session_id))["Item"]
    assert int(record[EXPIRES_AT]["N"]) == signed_in.expires_at + CLOCK_SKEW_SECONDS + 1
    expiring = [item["pk"]["S"] for item in dynamodb.scan(TableName=aws_settings.console_table)["Items"]
                if EXPIRES_AT in item]
    assert expiring and all(pk.startswith("SIGNED_OUT#") for pk in expiring)
