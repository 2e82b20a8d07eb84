"""The operator records the clock's triggers and destroys the copies the tool wrote, on moto.

Each record (submission, withdrawal, a hold and its end) is one audited item with who and when; the
clock, the purge and the export take it into account without an edit of the initiative file or a
redeploy. `download` and `decrypt` record each copy with its due date; `destroy-copies` deletes them.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from chalicelib import config
from chalicelib.config import Settings
from chalicelib.initiative import Initiative
from chalicelib.signing.ports import StatementRecord
from chalicelib.signing.statement import PersonalData
from chalicelib.signing.submit import encryption_context
from chalicelib.storage.clients import AwsClients
from chalicelib.storage.encryption import KmsStatementSealer
from chalicelib.storage.retention_records import DynamoDBRetentionRecords
from chalicelib.storage.statements import DynamoDBStatementStore
from tests.integration.conftest import write_counts
from tests.unit.export_specimens import DEMO_FILE, demo_initiative


@dataclass
class Operator:
    initiative: Initiative
    folder: Path
    patch: pytest.MonkeyPatch

    def cli(self, *args: str) -> tuple[int, str, str]:
        from chalicelib import operator_cli

        out, errors = io.StringIO(), io.StringIO()
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("sys.stderr", errors)
            status = operator_cli.main(list(args), out=out)
        return status, out.getvalue(), errors.getvalue()

    def on(self, day: str) -> None:
        """Run the tool as if today were `day` (ECI_TODAY, read once per process: cache cleared)."""
        self.patch.setenv("ECI_TODAY", day)
        config._process_fixed_today.cache_clear()


@pytest.fixture
def operator(aws_settings: Settings, tmp_path: Path) -> Iterator[Operator]:
    initiative = replace(demo_initiative(), id=f"ret-{uuid.uuid4().hex[:10]}")
    data = json.loads(DEMO_FILE.read_text(encoding="utf-8"))
    data["id"] = initiative.id
    (tmp_path / "initiative.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("INITIATIVE_FILE", str(tmp_path / "initiative.json"))
        patch.setenv("EXPORT_FAN_OUT", "in-process")
        patch.setenv("ECI_OPERATOR_COPIES", str(tmp_path / "register" / "copies.json"))
        yield Operator(initiative, tmp_path, patch)
    config._process_fixed_today.cache_clear()


def _triggers(settings: Settings, clients: AwsClients, initiative_id: str) -> list[dict[str, Any]]:
    page = clients.dynamodb.query(TableName=settings.counters_table,
                                  KeyConditionExpression="pk = :pk AND begins_with(sk, :t)",
                                  ExpressionAttributeValues={":pk": {"S": initiative_id}, ":t": {"S": "TRIGGER#"}})
    return list(page["Items"])


def test_operator_records_a_withdrawal_and_the_statements_are_due_a_month_later_without_a_redeploy(
    operator: Operator, aws_settings: Settings, aws_clients: AwsClients
) -> None:
    operator.on("2027-03-20")

    status, out, errors = operator.cli("record-withdrawal", "2027-03-15")

    assert status == 0, errors
    assert "destroyed on 2027-04-15 (one month after the withdrawal of the initiative on 2027-03-15)" in out
    [item] = _triggers(aws_settings, aws_clients, operator.initiative.id)
    assert item["kind"]["S"] == "withdrawn" and item["day"]["S"] == "2027-03-15"
    assert item["by"]["S"].startswith("arn:aws:") and item["recorded_at"]["S"]
    status, out, _ = operator.cli("retention")
    assert status == 0 and "statements destroyed on 2027-04-15" in out and "withdrawn 2027-03-15" in out


def test_operator_records_the_submission_which_brings_the_deadline_forward(
    operator: Operator, aws_settings: Settings, aws_clients: AwsClients
) -> None:
    operator.on("2027-12-12")

    status, out, errors = operator.cli("record-submission", "2027-12-10")

    assert status == 0, errors
    records = DynamoDBRetentionRecords(aws_clients.dynamodb, aws_settings.counters_table)
    [trigger] = records.triggers(operator.initiative.id)
    assert (trigger.kind, trigger.day) == ("submitted", date(2027, 12, 10))
    assert "destroyed on 2028-01-10" in out


def test_a_hold_keeps_the_statements_until_a_week_after_the_final_decision(operator: Operator) -> None:
    operator.on("2028-05-20")
    status, out, errors = operator.cli("hold-start", "T-123/28", "2028-05-19")
    assert status == 0, errors
    assert "held by proceedings T-123/28" in out

    operator.on("2028-07-02")
    status, out, errors = operator.cli("hold-end", "T-123/28", "2028-07-01")

    assert status == 0, errors
    assert "destroyed on 2028-07-08 (one week after the final decision of 2028-07-01" in out


@pytest.mark.parametrize(("args", "message"), [
    (("record-withdrawal", "15/03/2027"), "error: '15/03/2027' is not a date (YYYY-MM-DD)"),
    (("record-withdrawal", "2027-10-01"), "error: 2027-10-01 is in the future"),
    (("record-submission", "2027-08-31"), "error: the submission must be after the end of collection (2027-08-31)"),
    (("hold-end", "T-1/27", "2027-09-01"), "error: no hold for the proceedings 'T-1/27' was recorded"),
])
def test_a_record_that_cannot_be_true_is_one_clear_line_and_nothing_is_recorded(
    operator: Operator, aws_settings: Settings, aws_clients: AwsClients, args: tuple[str, ...], message: str
) -> None:
    operator.on("2027-09-20")

    status, _, errors = operator.cli(*args)

    assert status == 1 and errors.startswith(message) and len(errors.splitlines()) == 1, errors
    assert _triggers(aws_settings, aws_clients, operator.initiative.id) == []


def _sign(settings: Settings, clients: AwsClients, initiative: Initiative, count: int) -> None:
    sealer = KmsStatementSealer(settings.statements_key, clients.botocore_session, 300, 1000)
    store = DynamoDBStatementStore(clients.dynamodb, settings.statements_table)
    for number in range(count):
        person = PersonalData("DE", f"Jürgen {number}", "Großmann", street="Kastanienallee", street_number="12b",
                              postal_code="10435", city="Berlin", country="DE", date_of_birth=date(1988, 3, 7))
        record = StatementRecord(initiative.id, "DE", str(uuid.uuid4()), date(2026, 11, 27), "en", 1,
                                 sealer.seal(person.to_payload(), encryption_context(initiative.id)))
        assert store.add(record, uuid.uuid4().hex)
    # The counts the count function would have written, so that the run reconciles.
    write_counts(clients.dynamodb, settings.counters_table, initiative.id, {"DE": count}, shard=7)


@pytest.fixture(scope="module")
def session_clients(aws_settings: Settings) -> AwsClients:
    clients = AwsClients(aws_settings)
    _ = clients.s3  # before the encryption SDK wraps the session (see chalicelib.jobs.Jobs.clients)
    return clients


def test_downloaded_and_decrypted_copies_carry_their_due_date_and_are_destroyed_on_command(
    operator: Operator, aws_settings: Settings, session_clients: AwsClients
) -> None:
    _sign(aws_settings, session_clients, operator.initiative, 3)
    operator.on("2027-09-10")
    assert operator.cli("run", "--run-id", "r1")[0] == 0
    exports = operator.folder / "exports"

    status, out, errors = operator.cli("download", "r1", "--to", str(exports))
    assert status == 0, errors
    assert "destroy this copy before 2028-06-01" in out
    notice = exports / "r1" / "DESTROY-BEFORE-2028-06-01.txt"
    assert "destroy-copies" in notice.read_text(encoding="utf-8")
    status, out, errors = operator.cli("decrypt", str(exports / "r1"))
    assert status == 0, errors
    [xml] = [Path(line) for line in out.splitlines()]
    assert "destroy them before 2028-06-01" in errors

    status, out, _ = operator.cli("copies")
    assert status == 0 and str(xml) in out and str(exports / "r1") in out
    assert "destroy before 2028-06-01" in out

    operator.on("2028-06-01")  # the due day: every command reminds the operator
    status, out, errors = operator.cli("list")
    assert status == 0 and "2 copie(s) of statements on this machine are past their destruction date" in errors

    status, out, errors = operator.cli("destroy-copies")

    assert status == 0, errors
    assert not xml.exists() and not (exports / "r1").exists()
    assert "2 copie(s) destroyed" in out
    assert operator.cli("copies")[1] == "no copies recorded on this machine\n"
    assert "past their destruction date" not in operator.cli("list")[2]


def test_copies_written_before_a_withdrawal_are_due_on_the_day_the_withdrawal_brings(
    operator: Operator, aws_settings: Settings, session_clients: AwsClients
) -> None:
    _sign(aws_settings, session_clients, operator.initiative, 2)
    operator.on("2027-09-10")
    assert operator.cli("run", "--run-id", "r1")[0] == 0
    exports = operator.folder / "exports"
    assert operator.cli("download", "r1", "--to", str(exports))[0] == 0
    assert operator.cli("decrypt", str(exports / "r1"))[0] == 0  # written when they were due on 2028-06-01

    operator.on("2027-09-20")
    status, out, errors = operator.cli("record-withdrawal", "2027-09-15")

    assert status == 0, errors
    assert "2 copie(s) on this machine are now to be destroyed before 2027-10-15" in out
    status, out, _ = operator.cli("copies")
    assert status == 0 and out.count("destroy before 2027-10-15") == 2 and "2028-06-01" not in out
    assert [notice.name for notice in (exports / "r1").glob("DESTROY-BEFORE-*")] == [
        "DESTROY-BEFORE-2027-10-15.txt"]
    operator.on("2027-10-14")
    assert "past their destruction date" not in operator.cli("list")[2]
    operator.on("2027-10-15")  # the day the withdrawal brings: every command reminds the operator
    assert "2 copie(s) of statements on this machine are past their destruction date" in operator.cli("list")[2]


def test_copies_follow_a_withdrawal_recorded_on_another_machine_at_the_next_command(
    operator: Operator, aws_settings: Settings, session_clients: AwsClients
) -> None:
    from datetime import UTC, datetime

    from chalicelib.exporting.retention import WITHDRAWN, RetentionTrigger

    _sign(aws_settings, session_clients, operator.initiative, 1)
    operator.on("2027-09-10")
    assert operator.cli("run", "--run-id", "r1")[0] == 0
    assert operator.cli("download", "r1", "--to", str(operator.folder / "exports"))[0] == 0
    # Another operator (or the organisers' console) records the withdrawal: this machine's tool is not used.
    DynamoDBRetentionRecords(session_clients.dynamodb, aws_settings.counters_table).record_trigger(
        operator.initiative.id, RetentionTrigger(WITHDRAWN, date(2027, 9, 15), datetime.now(UTC), "", "elsewhere"))

    operator.on("2027-10-15")
    status, _, errors = operator.cli("list")

    assert status == 0
    assert "1 copie(s) of statements on this machine are past their destruction date" in errors
    assert "destroy before" not in operator.cli("copies")[1]  # PAST DUE, not a date 8 months away


def test_a_clock_that_cannot_be_read_leaves_the_copies_as_they_were_and_the_command_works(
    operator: Operator, aws_settings: Settings, session_clients: AwsClients
) -> None:
    from botocore.exceptions import ClientError

    from chalicelib.jobs import Jobs

    _sign(aws_settings, session_clients, operator.initiative, 1)
    operator.on("2027-09-10")
    assert operator.cli("run", "--run-id", "r1")[0] == 0
    assert operator.cli("download", "r1", "--to", str(operator.folder / "exports"))[0] == 0

    def refused(self: Jobs) -> None:
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "Query")

    operator.patch.setattr(Jobs, "retention_clock", refused)
    status, out, errors = operator.cli("list")

    assert status == 0 and out.startswith("r1  complete")
    assert errors == ("warning: the due date of the copies on this machine was not checked: AWS refused Query: "
                      "AccessDeniedException\n")
    assert "destroy before 2028-06-01" in operator.cli("copies")[1]


def test_nothing_recorded_after_the_purge_began_can_change_it(
    operator: Operator, aws_settings: Settings, aws_clients: AwsClients
) -> None:
    from chalicelib.jobs import Jobs

    operator.on("2028-06-02")
    purged = Jobs(aws_settings, operator.initiative, today=lambda: date(2028, 6, 1), aws=aws_clients).purge()
    assert purged.state == "done"
    aws_clients.dynamodb.update_continuous_backups(  # as deployed, for the tests after this one
        TableName=aws_settings.statements_table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})

    status, _, errors = operator.cli("hold-start", "T-9/28", "2028-06-02")

    assert status == 1 and errors == (f"error: the statements of {operator.initiative.id} are already being "
                                      "destroyed: nothing recorded now can change that\n")
    assert _triggers(aws_settings, aws_clients, operator.initiative.id) == []


def test_the_operator_sees_what_the_purge_destroyed_of_a_test_phase_that_never_went_live(
    operator: Operator, aws_settings: Settings, aws_clients: AwsClients
) -> None:
    from chalicelib.console.records import initiative_id_in_test_phase
    from chalicelib.jobs import Jobs

    store = DynamoDBStatementStore(aws_clients.dynamodb, aws_settings.statements_table)
    for code in ("DE", "PL"):
        record = StatementRecord(initiative_id_in_test_phase(operator.initiative.id), code, str(uuid.uuid4()),
                                 date(2026, 11, 27), "en", 1, b"sealed bytes stand-in")
        assert store.add(record, uuid.uuid4().hex)
    operator.on("2026-11-30")
    assert operator.cli("record-withdrawal", "2026-11-28")[0] == 0
    operator.on("2026-12-28")
    purged = Jobs(aws_settings, operator.initiative, today=lambda: date(2026, 12, 28), aws=aws_clients).purge()
    assert purged.state == "done" and purged.test_statements == {"DE": 1, "PL": 1}
    aws_clients.dynamodb.update_continuous_backups(  # as deployed, for the tests after this one
        TableName=aws_settings.statements_table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})

    status, out, errors = operator.cli("retention")

    assert status == 0, errors
    assert "purge completed" in out and "0 statements, 0 duplicate markers" in out
    assert "and of the test phase: 2 statements, 2 duplicate markers" in out
