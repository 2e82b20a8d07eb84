"""Organisers sign in to /organiser on moto's Cognito, pause and resume, and read the audit log."""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from chalice.test import Client

import app as app_module
from chalicelib import services
from chalicelib.config import Settings
from chalicelib.console.session import SESSION_COOKIE
from tests.integration.organiser_console import (
    Account,
    SignIn,
    authenticator_code,
    cookie_value,
    create_account,
    csrf_of,
    first_sign_in,
    get_as,
    post_as,
    set_cookies,
)

_numbers = itertools.count()
# A day the demo collects: the public forms these tests open must not close with the calendar (2027-08-31).
COLLECTING_DAY = date(2026, 11, 27)


@pytest.fixture
def client(aws_settings: Settings) -> Iterator[Client]:
    services.use(services.Services(aws_settings, services.check_initiative_file(), today=lambda: COLLECTING_DAY))
    with Client(app_module.app) as test_client:
        yield test_client
    services.use(None)


@pytest.fixture
def organiser(aws_settings: Settings, client: Client) -> tuple[Account, str]:
    account = create_account(aws_settings, f"organiser{next(_numbers)}@example.org", "organiser")
    return account, first_sign_in(client, account)


@pytest.fixture
def viewer(aws_settings: Settings, client: Client) -> tuple[Account, str]:
    account = create_account(aws_settings, f"viewer{next(_numbers)}@example.org", "viewer")
    return account, first_sign_in(client, account)


@pytest.fixture
def collecting(aws_settings: Settings) -> Iterator[None]:
    """The collection open before and after the test, whatever the test paused."""
    _reset_state(aws_settings)
    yield
    _reset_state(aws_settings)


def _reset_state(settings: Settings) -> None:
    import boto3

    from chalicelib.storage.console_table import state_key

    boto3.client("dynamodb", region_name=settings.region).delete_item(
        TableName=settings.console_table, Key=state_key(services.check_initiative_file().id))


def _audit_actions(client: Client, session: str) -> list[dict[str, str]]:
    response = get_as(client, session, "/organiser/audit.csv")
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.body.decode())))


# --- signing in ---------------------------------------------------------------------------------------------


def test_new_organiser_chooses_a_password_sets_up_an_authenticator_and_sees_the_dashboard(
    client: Client, aws_settings: Settings
) -> None:
    account = create_account(aws_settings, "first@example.org", "organiser")

    session = first_sign_in(client, account)
    dashboard = get_as(client, session, "/organiser")

    assert dashboard.status_code == 200
    assert b"<h1>Dashboard</h1>" in dashboard.body
    assert b"Pause collection" in dashboard.body


def test_session_cookie_is_secure_http_only_and_same_site_strict(
    client: Client, organiser: tuple[Account, str]
) -> None:
    account, _ = organiser
    signing_in = SignIn(client)
    signing_in.post(step="password", email=account.email, password=account.password)
    signed_in = signing_in.step(code=authenticator_code(account.secret))

    [session_cookie] = [cookie for cookie in set_cookies(signed_in) if f"{SESSION_COOKIE}=" in cookie]
    attributes = {part.strip() for part in session_cookie.split(";")}
    assert {"Secure", "HttpOnly", "SameSite=Strict", "Path=/"} <= attributes
    assert signed_in.headers["Location"] == "/organiser"


def test_wrong_password_gets_a_clear_message_and_no_session(client: Client, organiser: tuple[Account, str]) -> None:
    account, _ = organiser

    page = SignIn(client).post(step="password", email=account.email, password="Not-The-Password-1!")

    assert page.status_code == 401
    assert b"The email address or the password is not right." in page.body
    assert cookie_value(page, SESSION_COOKIE) is None


def test_unknown_account_gets_the_same_answer_as_a_wrong_password(client: Client) -> None:
    page = SignIn(client).post(step="password", email="nobody@example.org", password="Whatever-Pass-1!")

    assert page.status_code == 401
    assert b"The email address or the password is not right." in page.body


def test_wrong_authenticator_code_gets_no_session(client: Client, organiser: tuple[Account, str]) -> None:
    account, _ = organiser
    signing_in = SignIn(client)
    signing_in.post(step="password", email=account.email, password=account.password)
    right = authenticator_code(account.secret)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"

    page = signing_in.step(code=wrong)

    assert page.status_code == 401
    assert b"That code is not right." in page.body
    assert cookie_value(page, SESSION_COOKIE) is None


def test_sign_in_form_posted_without_its_cookie_is_refused(client: Client, organiser: tuple[Account, str]) -> None:
    account, _ = organiser
    from urllib.parse import urlencode

    page = client.http.post("/organiser/sign-in", headers={"content-type": "application/x-www-form-urlencoded"},
                            body=urlencode({"csrf": "forged-value-1234567890", "step": "password",
                                            "email": account.email, "password": account.password}))

    assert page.status_code == 403
    assert cookie_value(page, SESSION_COOKIE) is None


@pytest.mark.parametrize("path", ["/organiser", "/organiser/audit", "/organiser/audit.csv"])
def test_console_page_without_a_session_sends_to_sign_in(client: Client, path: str) -> None:
    response = client.http.get(path)

    assert response.status_code == 303
    assert response.headers["Location"] == "/organiser/sign-in"


@pytest.mark.parametrize("path", ["/organiser/collection", "/organiser/sign-out"])
def test_console_action_without_a_session_is_refused(client: Client, path: str) -> None:
    response = client.http.post(path, headers={"content-type": "application/x-www-form-urlencoded"},
                                body="action=pause")

    assert response.status_code in (401, 303)
    assert get_state_paused(client) is False


def test_forged_session_cookie_is_refused(client: Client, organiser: tuple[Account, str]) -> None:
    _, session = organiser
    header, payload, signature = session.split(".")
    forged = ".".join((header, payload, signature[::-1]))

    assert get_as(client, forged, "/organiser").status_code == 303


def get_state_paused(client: Client) -> bool:
    return services.current().console_store.state(services.current().initiative.id).paused


# --- pause and resume ---------------------------------------------------------------------------------------


def test_organiser_pauses_and_resumes_and_the_audit_log_says_who_and_when(
    client: Client, organiser: tuple[Account, str], collecting: None
) -> None:
    _, session = organiser
    csrf = csrf_of(client, session)

    paused = post_as(client, session, "/organiser/collection", csrf=csrf, action="pause")
    assert paused.status_code == 303
    assert get_state_paused(client) is True
    assert b"Collection is <strong>paused</strong>" in get_as(client, session, "/organiser").body

    resumed = post_as(client, session, "/organiser/collection", csrf=csrf, action="resume")
    assert resumed.status_code == 303
    assert get_state_paused(client) is False

    entries = _audit_actions(client, session)
    subject = services.current().organiser_tokens.verify(session).subject
    mine = [entry for entry in entries if entry["actor"] == subject]
    assert [entry["action"] for entry in mine][:3] == ["resume", "pause", "sign_in"]
    assert all(entry["role"] == "organiser" and entry["at"] for entry in mine)


def test_pausing_twice_says_so_and_changes_nothing(
    client: Client, organiser: tuple[Account, str], collecting: None
) -> None:
    _, session = organiser
    csrf = csrf_of(client, session)
    post_as(client, session, "/organiser/collection", csrf=csrf, action="pause")
    before = len(_audit_actions(client, session))

    again = post_as(client, session, "/organiser/collection", csrf=csrf, action="pause")

    assert again.status_code == 409
    assert b"Collection is already paused. Nothing was changed." in again.body
    assert len(_audit_actions(client, session)) == before


def test_viewer_sees_the_dashboard_but_cannot_pause(
    client: Client, viewer: tuple[Account, str], collecting: None
) -> None:
    _, session = viewer
    dashboard = get_as(client, session, "/organiser")
    assert dashboard.status_code == 200
    assert b"Pause collection" not in dashboard.body

    refused = post_as(client, session, "/organiser/collection", csrf=csrf_of(client, session), action="pause")

    assert refused.status_code == 403
    assert b"may view the console but not change anything" in refused.body
    assert get_state_paused(client) is False


@pytest.mark.parametrize("csrf", ["", "wrong-token", None])
def test_pause_without_the_pages_csrf_token_changes_nothing(
    client: Client, organiser: tuple[Account, str], collecting: None, csrf: str | None
) -> None:
    _, session = organiser
    fields = {"action": "pause"} if csrf is None else {"action": "pause", "csrf": csrf}

    refused = post_as(client, session, "/organiser/collection", **fields)

    assert refused.status_code == 403
    assert get_state_paused(client) is False


def test_csrf_token_of_another_session_does_not_work(
    client: Client, organiser: tuple[Account, str], viewer: tuple[Account, str], collecting: None
) -> None:
    _, session = organiser
    _, other = viewer

    refused = post_as(client, session, "/organiser/collection", csrf=csrf_of(client, other), action="pause")

    assert refused.status_code == 403
    assert get_state_paused(client) is False


@pytest.mark.parametrize("body", ["action=stop", "action=pause&action=pause", "action=pause&extra=1", "%%%"])
def test_bad_input_to_the_collection_action_changes_nothing(
    client: Client, organiser: tuple[Account, str], collecting: None, body: str
) -> None:
    _, session = organiser
    csrf = csrf_of(client, session)

    refused = client.http.post("/organiser/collection", body=f"csrf={csrf}&{body}",
                               headers={"content-type": "application/x-www-form-urlencoded",
                                        "cookie": f"{SESSION_COOKIE}={session}"})

    assert refused.status_code == 400
    assert get_state_paused(client) is False


# --- the audit log ------------------------------------------------------------------------------------------


def test_sign_in_is_in_the_audit_log_with_the_account_identifier_and_no_email(
    client: Client, organiser: tuple[Account, str]
) -> None:
    account, session = organiser

    page = get_as(client, session, "/organiser/audit")
    entries = _audit_actions(client, session)

    assert page.status_code == 200
    assert b"<h1>Audit log</h1>" in page.body
    assert any(entry["action"] == "sign_in" for entry in entries)
    assert account.email.encode() not in page.body
    assert all(account.email not in ",".join(entry.values()) for entry in entries)


def test_audit_csv_downloads_as_an_attachment(client: Client, viewer: tuple[Account, str]) -> None:
    _, session = viewer

    response = get_as(client, session, "/organiser/audit.csv")

    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.body.decode().splitlines()[0] == "at,actor,role,action,details"


def test_audit_entries_cannot_be_replaced(aws_settings: Settings, client: Client) -> None:
    from chalicelib.console.records import AuditEntry

    store = services.current().console_store
    entry = AuditEntry(at="2026-12-06T10:00:00.000000+00:00", actor="a", role="organiser", action="pause")
    put: Any = store.audit_put("replace-test", entry)  # type: ignore[attr-defined]
    import boto3

    dynamodb = boto3.client("dynamodb", region_name=aws_settings.region)
    dynamodb.put_item(**put)

    with pytest.raises(dynamodb.exceptions.ConditionalCheckFailedException):
        dynamodb.put_item(**{**put, "Item": {**put["Item"], "action": {"S": "resume"}}})


# --- accounts: the documented command -----------------------------------------------------------------------


def test_create_user_command_makes_an_account_that_signs_in_with_its_one_time_password(
    client: Client, aws_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    import re

    from chalicelib.organiser_cli import main

    status = main(["--stage", "test", "create-user", "--role", "viewer", "cli-made@example.org"])

    printed = capsys.readouterr().out
    assert status == 0
    password = re.search(r"one-time password \(shown only now; valid for 3 days\): (\S+)", printed)
    assert password
    session = first_sign_in(client, Account("cli-made@example.org", password.group(1)))
    assert services.current().organiser_tokens.verify(session).role == "viewer"


def test_create_user_command_refuses_an_existing_account_and_a_bad_address(
    aws_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    from chalicelib.organiser_cli import main

    create_account(aws_settings, "twice@example.org", "organiser")

    assert main(["--stage", "test", "create-user", "--role", "organiser", "twice@example.org"]) == 1
    assert main(["--stage", "test", "create-user", "--role", "organiser", "not-an-address"]) == 1
    errors = capsys.readouterr().err
    assert "error: an account for twice@example.org exists already" in errors
    assert "error: 'not-an-address' is not an email address" in errors


# --- the public side of a pause -----------------------------------------------------------------------------


def test_pause_reaches_the_public_forms_within_the_cache_period_and_resume_reopens_them(
    client: Client, organiser: tuple[Account, str], aws_settings: Settings, collecting: None
) -> None:
    _, session = organiser
    now = [1_000_000.0]
    current = services.Services(aws_settings, services.check_initiative_file(), today=lambda: COLLECTING_DAY,
                                now=lambda: now[0])
    services.use(current)
    assert b'name="form_token"' in client.http.get("/sign/FR?lang=fr").body  # read: collecting
    csrf = csrf_of(client, session)

    post_as(client, session, "/organiser/collection", csrf=csrf, action="pause")
    now[0] += aws_settings.counts_cache_seconds
    paused = client.http.get("/sign/FR?lang=fr")
    refused = client.http.post("/sign/FR?lang=fr", headers={"content-type": "application/x-www-form-urlencoded"},
                               body="full_first_names=Marie")

    assert b"<h1>La collecte est suspendue</h1>" in paused.body
    assert refused.status_code == 503
    post_as(client, session, "/organiser/collection", csrf=csrf, action="resume")
    now[0] += aws_settings.counts_cache_seconds
    assert b'name="form_token"' in client.http.get("/sign/FR?lang=fr").body
