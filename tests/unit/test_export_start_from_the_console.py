"""The console's "start an export now": who may, what the export function is asked, and what a refusal says.

On AWS the console function invokes the export function (it may read no statement itself), which plans the
run and records its start; the failure model here is that invocation failing, or the export refusing.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from chalicelib.config import Settings
from chalicelib.console import records
from chalicelib.console.actions import ConsoleContext, perform
from chalicelib.console.records import AuditEntry, RunStarter
from chalicelib.console.tokens import InvalidSessionError, Organiser
from chalicelib.jobs import Jobs
from chalicelib.storage.console_table import DynamoDBConsoleStore
from tests.unit.export_specimens import demo_initiative

ORGANISER = Organiser("sub-organiser-1", frozenset({"organiser"}), 2_000_000_000, "session-1")
VIEWER = Organiser("sub-viewer-1", frozenset({"viewer"}), 2_000_000_000, "session-2")


@dataclass
class Tokens:
    organiser: Organiser

    def verify(self, token: str) -> Organiser:
        if token != "good-token":
            raise InvalidSessionError("unknown")
        return self.organiser


@dataclass
class Exports:
    answer: dict[str, Any]
    asked: list[RunStarter] = field(default_factory=list)

    def start_for_console(self, started_by: RunStarter) -> dict[str, Any]:
        self.asked.append(started_by)
        return self.answer


def _context(organiser: Organiser, exports: Exports | None) -> ConsoleContext:
    return ConsoleContext("demo-2026", Tokens(organiser), store=None, exports=exports)  # type: ignore[arg-type]


def test_an_organiser_asks_the_export_to_start_a_run_in_their_name() -> None:
    exports = Exports({"run_id": "ondemand-20261127T210000Z", "member_states": 3})

    answer = perform(_context(ORGANISER, exports), {"action": "start_export", "token": "good-token"})

    assert answer == {"ok": True, "run_id": "ondemand-20261127T210000Z", "member_states": 3}
    assert exports.asked == [RunStarter("sub-organiser-1", "organiser", "console")]


def test_a_viewer_is_refused_and_the_export_is_not_asked() -> None:
    exports = Exports({"run_id": "x", "member_states": 0})

    assert perform(_context(VIEWER, exports), {"action": "start_export", "token": "good-token"}) == {
        "ok": False, "refusal": "role"}
    assert perform(_context(ORGANISER, exports), {"action": "start_export", "token": "stolen"}) == {
        "ok": False, "refusal": "session"}
    assert exports.asked == []


@pytest.mark.parametrize("refusal", ["retention_over", "unavailable"])
def test_the_exports_refusal_reaches_the_organiser(refusal: str) -> None:
    answer = perform(_context(ORGANISER, Exports({"refusal": refusal})), {"action": "start_export",
                                                                          "token": "good-token"})
    assert answer == {"ok": False, "refusal": refusal}


def test_a_console_without_the_export_says_it_cannot_reach_it() -> None:
    assert perform(_context(ORGANISER, None), {"action": "start_export", "token": "good-token"}) == {
        "ok": False, "refusal": "unavailable"}


class FakeLambda:
    def __init__(self, answer: dict[str, Any], function_error: bool = False) -> None:
        self.answer = answer
        self.function_error = function_error
        self.invoked: list[dict[str, Any]] = []

    def invoke(self, **request: Any) -> dict[str, Any]:
        self.invoked.append(request)
        response: dict[str, Any] = {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(self.answer).encode())}
        if self.function_error:
            response["FunctionError"] = "Unhandled"
        return response


@dataclass
class FakeClients:
    lambda_: FakeLambda


def _jobs_on_aws(lambda_: FakeLambda) -> Jobs:
    settings = replace(Settings.from_environ({
        "ECI_STAGE": "dev", "STATEMENTS_TABLE": "s", "COUNTERS_TABLE": "c", "STATEMENTS_KEY": "k",
        "FINGERPRINT_KEY_PARAMETER": "/p"}), export_fan_out="lambda",
                       export_worker_function="eci-dev-export_worker")
    return Jobs(settings, demo_initiative(), aws=FakeClients(lambda_))  # type: ignore[arg-type]


def test_on_aws_the_console_waits_for_the_export_function_to_plan_the_run() -> None:
    lambda_ = FakeLambda({"run_id": "ondemand-1", "pending": ["DE", "PL"], "complete": False})

    answer = _jobs_on_aws(lambda_).start_for_console(RunStarter("sub-organiser-1", "organiser", "console"))

    assert answer == {"run_id": "ondemand-1", "member_states": 2}
    [request] = lambda_.invoked
    assert request["FunctionName"] == "eci-dev-export_worker"
    assert request["InvocationType"] == "RequestResponse", "the answer names the run, so the page can"
    assert json.loads(request["Payload"]) == {
        "action": "start", "started_by": {"actor": "sub-organiser-1", "role": "organiser", "via": "console"}}


def test_on_aws_a_failed_export_function_or_a_past_deadline_is_a_refusal_not_an_error() -> None:
    starter = RunStarter("sub-organiser-1", "organiser", "console")
    failed = FakeLambda({"errorMessage": "boom"}, function_error=True)
    late = FakeLambda({"run_id": None, "complete": False, "retention_over": True})

    assert _jobs_on_aws(failed).start_for_console(starter) == {"refusal": "unavailable"}
    assert _jobs_on_aws(late).start_for_console(starter) == {"refusal": "retention_over"}


def test_the_console_function_and_the_export_name_their_starters_as_the_export_event_reads_them() -> None:
    for starter in (records.SCHEDULE_STARTER, RunStarter("sub-1", "organiser", "console"),
                    RunStarter("arn:aws:iam::123456789012:user/ops", "operator", "operator")):
        assert RunStarter.from_event(json.loads(json.dumps(starter.to_json()))) == starter


class ConflictingDynamoDB:
    """A transaction cancelled for a reason other than the marker: another write to the same items."""

    class exceptions:  # noqa: N801 - as botocore names it
        class TransactionCanceledException(Exception):  # noqa: N818
            def __init__(self, code: str) -> None:
                self.response = {"CancellationReasons": [{"Code": code}, {"Code": "None"}]}

    def __init__(self, code: str) -> None:
        self.code = code

    def transact_write_items(self, **request: Any) -> None:
        raise self.exceptions.TransactionCanceledException(self.code)


def test_a_start_cancelled_by_a_conflict_is_not_taken_for_one_recorded_before() -> None:
    entry = AuditEntry("2026-11-27T21:00:00.000000+00:00", "schedule", "system", records.EXPORT_STARTED,
                       {"run_id": "r1", "via": "schedule"})

    recorded_before = DynamoDBConsoleStore(ConflictingDynamoDB("ConditionalCheckFailed"), "t")  # type: ignore[arg-type]
    assert recorded_before.append_once("demo-2026", "export_started#r1", entry) is False

    conflicting = DynamoDBConsoleStore(ConflictingDynamoDB("TransactionConflict"), "t")  # type: ignore[arg-type]
    with pytest.raises(ConflictingDynamoDB.exceptions.TransactionCanceledException):
        conflicting.append_once("demo-2026", "export_started#r1", entry)
