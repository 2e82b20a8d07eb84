"""Every start of an export run is in the organisers' audit log, once, naming who asked for it.

Failure model (what we run on): the schedule fires again on the same day (the day's run resumes); an
asynchronous invocation of the export function is delivered twice, or retried after its start was
recorded; two deliveries record at the same moment; the audit write fails (throttled, no permission);
anyone who may invoke the export function can put anything in its event. None of these may leave a run
without its entry, an entry without its run, or two entries for one run.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest
from chalice.test import Client

import app as app_module
from chalicelib import services
from chalicelib.config import Settings
from chalicelib.console.records import (
    EXPORT_STARTED,
    SCHEDULE_STARTER,
    AuditEntry,
    RunStarter,
    StarterError,
)
from chalicelib.exporting import layout
from chalicelib.jobs import Jobs
from chalicelib.storage.clients import AwsClients
from chalicelib.storage.console_table import DynamoDBConsoleStore
from tests.integration.organiser_console import (
    Account,
    create_account,
    csrf_of,
    first_sign_in,
    get_as,
    post_as,
)
from tests.unit.export_specimens import demo_initiative

SIGNING_DAY = date(2026, 11, 27)
NOW = datetime(2026, 11, 27, 21, 0, tzinfo=UTC)
OPERATOR = RunStarter("arn:aws:sts::123456789012:assumed-role/eci-operator/maria", "operator", "operator")


@pytest.fixture(scope="module")
def clients(aws_settings: Settings) -> AwsClients:
    return AwsClients(aws_settings)


def _jobs(settings: Settings, clients: AwsClients, day: date = SIGNING_DAY) -> Jobs:
    """An initiative of its own with no statement: its runs plan nothing and complete at once."""
    initiative = replace(demo_initiative(), id=f"aud-{uuid.uuid4().hex[:10]}")
    return Jobs(replace(settings, export_fan_out="in-process"), initiative, today=lambda: day, now=lambda: NOW,
                aws=clients)


def _starts(settings: Settings, clients: AwsClients, initiative_id: str) -> list[AuditEntry]:
    entries = DynamoDBConsoleStore(clients.dynamodb, settings.console_table).entries(initiative_id)
    return [entry for entry in entries if entry.action == EXPORT_STARTED]


def test_the_days_run_is_in_the_audit_log_once_however_often_the_schedule_fires(
    aws_settings: Settings, clients: AwsClients
) -> None:
    jobs = _jobs(aws_settings, clients)

    jobs.schedule_export()
    jobs.schedule_export()  # the schedule fires again the same day: the day's run resumes (it is complete)

    [entry] = _starts(aws_settings, clients, jobs.initiative.id)
    assert (entry.actor, entry.role) == ("schedule", "system")
    assert entry.details == {"run_id": layout.scheduled_run_id(SIGNING_DAY), "via": "schedule"}
    assert jobs.run.manifest(layout.scheduled_run_id(SIGNING_DAY)) is not None


def test_a_start_delivered_twice_is_recorded_once_with_the_operator_who_asked(
    aws_settings: Settings, clients: AwsClients
) -> None:
    jobs = _jobs(aws_settings, clients)
    event = {"action": "start", "run_id": "r1", "started_by": OPERATOR.to_json()}

    first = jobs.work(event)
    again = jobs.work(event)  # Lambda delivers an asynchronous invocation at least once

    assert first["run_id"] == again["run_id"] == "r1"
    [entry] = _starts(aws_settings, clients, jobs.initiative.id)
    assert (entry.actor, entry.role, entry.details) == (OPERATOR.actor, "operator", {"run_id": "r1", "via": "operator"})


def test_two_deliveries_recording_the_same_run_at_the_same_moment_leave_one_entry(
    aws_settings: Settings, clients: AwsClients
) -> None:
    store = DynamoDBConsoleStore(clients.dynamodb, aws_settings.console_table)
    initiative_id = f"aud-{uuid.uuid4().hex[:10]}"
    entry = AuditEntry(NOW.isoformat(), "schedule", "system", EXPORT_STARTED, {"run_id": "r1", "via": "schedule"})

    # Both read "no plan yet"; both reach the audit log: the per-run marker lets only one in.
    assert store.append_once(initiative_id, f"{EXPORT_STARTED}#r1", entry) is True
    assert store.append_once(initiative_id, f"{EXPORT_STARTED}#r1", entry) is False

    assert len([e for e in store.entries(initiative_id) if e.action == EXPORT_STARTED]) == 1
    # The marker is no audit entry of any initiative: the log reads exactly one line for the run.
    assert [e.details["run_id"] for e in store.entries(initiative_id)] == ["r1"]


def test_a_start_naming_an_invented_starter_starts_nothing_and_records_nothing(
    aws_settings: Settings, clients: AwsClients
) -> None:
    jobs = _jobs(aws_settings, clients)
    for started_by in ({"actor": "schedule", "role": "organiser", "via": "schedule"},  # a role the way never has
                       {"actor": "x", "role": "system", "via": "cron"},  # a way that does not exist
                       {"actor": "<script>", "role": "operator", "via": "operator"},  # not an identifier
                       {"actor": "a" * 257, "role": "operator", "via": "operator"},
                       "schedule"):
        with pytest.raises(StarterError):
            jobs.work({"action": "start", "run_id": "forged", "started_by": started_by})

    assert _starts(aws_settings, clients, jobs.initiative.id) == []
    assert jobs.run.plan("forged") is None


def test_a_start_that_names_nobody_is_still_recorded_as_a_direct_invocation(
    aws_settings: Settings, clients: AwsClients
) -> None:
    jobs = _jobs(aws_settings, clients)

    jobs.work({"action": "start", "run_id": "by-hand"})  # someone invoked the function from the AWS console

    [entry] = _starts(aws_settings, clients, jobs.initiative.id)
    assert (entry.actor, entry.role, entry.details["via"]) == ("unnamed", "unknown", "direct")


def test_a_start_refused_past_the_retention_deadline_is_not_recorded_as_started(
    aws_settings: Settings, clients: AwsClients
) -> None:
    jobs = _jobs(aws_settings, clients, day=date(2028, 6, 1))  # the demo's statements are due for destruction

    assert jobs.work({"action": "start", "run_id": "late", "started_by": OPERATOR.to_json()})["retention_over"]
    jobs.schedule_export()

    assert _starts(aws_settings, clients, jobs.initiative.id) == []


class UnwritableAuditLog:
    def append_once(self, initiative_id: str, occasion: str, entry: AuditEntry) -> bool:
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "TransactWriteItems")


def test_a_run_whose_start_cannot_be_recorded_does_not_start_and_the_next_start_records_it(
    aws_settings: Settings, clients: AwsClients
) -> None:
    from botocore.exceptions import ClientError

    jobs = _jobs(aws_settings, clients)
    working = jobs.audit_log
    jobs.__dict__["audit_log"] = UnwritableAuditLog()

    with pytest.raises(ClientError):
        jobs.start_export("r1", started_by=SCHEDULE_STARTER)
    assert jobs.run.plan("r1") is None, "no run without its entry"

    jobs.__dict__["audit_log"] = working
    jobs.start_export("r1", started_by=SCHEDULE_STARTER)  # the retry: Lambda's, or tomorrow's schedule
    assert [entry.details["run_id"] for entry in _starts(aws_settings, clients, jobs.initiative.id)] == ["r1"]


def test_a_recorded_start_survives_a_plan_that_failed_and_the_retry_does_not_record_it_again(
    aws_settings: Settings, clients: AwsClients, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = _jobs(aws_settings, clients)

    def crashes(run_id: str) -> Any:
        raise TimeoutError("the invocation ran out of time after recording the start")

    with monkeypatch.context() as patch:
        patch.setattr(jobs.run, "start", crashes)
        with pytest.raises(TimeoutError):
            jobs.start_export("r1", started_by=OPERATOR)
    jobs.start_export("r1", started_by=OPERATOR)

    assert len(_starts(aws_settings, clients, jobs.initiative.id)) == 1
    assert jobs.run.manifest("r1") is not None


# --- the organisers' console --------------------------------------------------------------------------------


@pytest.fixture
def client(empty_tables: Settings) -> Iterator[Client]:
    services.use(services.Services(empty_tables, services.check_initiative_file(), today=lambda: SIGNING_DAY))
    with Client(app_module.app) as test_client:
        yield test_client
    services.use(None)


def _signed_in(settings: Settings, client: Client, role: str) -> tuple[str, str]:
    account: Account = create_account(settings, f"{role}-{uuid.uuid4().hex[:8]}@example.org", role)
    session = first_sign_in(client, account)
    return session, services.current().organiser_tokens.verify(session).subject


def test_an_organiser_starts_an_export_and_the_audit_log_names_them(aws_settings: Settings, client: Client) -> None:
    session, subject = _signed_in(aws_settings, client, "organiser")

    started = post_as(client, session, "/organiser/exports", csrf=csrf_of(client, session))

    assert started.status_code == 303
    location = started.headers["Location"]
    assert location.startswith("/organiser?done=export_started&run=")
    run_id = location.split("run=")[1].split("#")[0]
    page = get_as(client, session, location.split("#")[0]).body.decode()
    assert f"An export run ({run_id}) has started." in page
    [entry] = _started_by(client, session, subject)
    assert (entry["role"], entry["details"]) == ("organiser", f"run_id={run_id} via=console")
    assert Jobs(aws_settings, services.current().initiative).run.plan(run_id) is not None, "the run it records"


def _started_by(client: Client, session: str, subject: str) -> list[dict[str, str]]:
    """The audit log's export starts by this account, as the organisers download it."""
    import csv
    import io

    rows = csv.DictReader(io.StringIO(get_as(client, session, "/organiser/audit.csv").body.decode()))
    return [row for row in rows if row["actor"] == subject and row["action"] == EXPORT_STARTED]


def test_a_viewer_cannot_start_an_export_and_nothing_is_recorded(aws_settings: Settings, client: Client) -> None:
    session, subject = _signed_in(aws_settings, client, "viewer")
    assert b"Start an export now" not in get_as(client, session, "/organiser").body

    refused = post_as(client, session, "/organiser/exports", csrf=csrf_of(client, session))

    assert refused.status_code == 403
    assert b"may view the console but not change anything" in refused.body
    assert _started_by(client, session, subject) == []


def test_a_start_posted_without_the_pages_csrf_token_starts_nothing(aws_settings: Settings, client: Client) -> None:
    session, subject = _signed_in(aws_settings, client, "organiser")

    refused = post_as(client, session, "/organiser/exports", csrf="forged")

    assert refused.status_code == 403
    assert _started_by(client, session, subject) == []


def test_the_notice_shows_only_a_run_id_never_other_text_from_the_link(aws_settings: Settings, client: Client) -> None:
    session, _ = _signed_in(aws_settings, client, "organiser")

    page = get_as(client, session, "/organiser?done=export_started&run=Call%20us%20on%20%2B1%20555").body.decode()

    assert "An export run has started." in page
    assert "Call us" not in page
