"""The retention clock on moto: the purge destroys exactly one initiative's statements, markers, exports and
restorable backups, keeps its counts (marked final) and an audit record, leaves every other initiative
alone, and looks again on later days; the operator's records move the clock on their boundary days."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest

from chalicelib.config import Settings
from chalicelib.exporting.retention import (
    HOLD_ENDED,
    HOLD_STARTED,
    SUBMITTED,
    WITHDRAWN,
    DeletedPage,
    RetentionTrigger,
    purge_if_due,
)
from chalicelib.initiative import Initiative
from chalicelib.jobs import Jobs
from chalicelib.signing.ports import StatementRecord
from chalicelib.storage.clients import AwsClients
from chalicelib.storage.export_files import S3ExportPurger
from chalicelib.storage.retention_records import DynamoDBRetentionRecords
from chalicelib.storage.statement_purger import DynamoDBStatementPurger
from chalicelib.storage.statements import DynamoDBStatementStore
from chalicelib.storage.table_backups import DynamoDBBackupPurger
from tests.integration.conftest import write_counts
from tests.unit.export_specimens import demo_initiative

DUE = date(2028, 6, 1)  # 21 months after the demo's collection start, 2026-09-01
NOW = datetime(2028, 6, 1, 3, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def clients(aws_settings: Settings) -> AwsClients:
    made = AwsClients(aws_settings)
    _ = made.s3
    return made


@pytest.fixture(autouse=True)
def recovery_as_deployed(aws_settings: Settings, clients: AwsClients) -> Iterator[None]:
    """Point-in-time recovery on, as infra/data.yaml deploys it; on again after a test that purged."""
    recovery = {"PointInTimeRecoveryEnabled": True}
    table = aws_settings.statements_table
    clients.dynamodb.update_continuous_backups(TableName=table, PointInTimeRecoverySpecification=recovery)
    yield
    clients.dynamodb.update_continuous_backups(TableName=table, PointInTimeRecoverySpecification=recovery)


def _recovery(settings: Settings, clients: AwsClients) -> str:
    described = clients.dynamodb.describe_continuous_backups(TableName=settings.statements_table)
    status: str = described["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"][
        "PointInTimeRecoveryStatus"]
    return status


def _initiative() -> Initiative:
    return replace(demo_initiative(), id=f"pur-{uuid.uuid4().hex[:10]}")


def _fill(settings: Settings, clients: AwsClients, initiative: Initiative, per_state: dict[str, int]) -> None:
    """Statements with their markers, counters, and export objects (one of them in two versions)."""
    store = DynamoDBStatementStore(clients.dynamodb, settings.statements_table)
    for code, count in per_state.items():
        for _ in range(count):
            record = StatementRecord(initiative.id, code, str(uuid.uuid4()), date(2026, 11, 27), "en", 1,
                                     b"sealed bytes stand-in")
            assert store.add(record, uuid.uuid4().hex)
    write_counts(clients.dynamodb, settings.counters_table, initiative.id, per_state)
    for key in (f"{initiative.id}/r1/manifest.json", f"{initiative.id}/r1/DE/support-forms-DE-en-001.xml.enc",
                f"{initiative.id}/r1/DE/support-forms-DE-en-001.xml.enc"):
        clients.s3.put_object(Bucket=settings.export_bucket, Key=key, Body=b"x")


def _items(settings: Settings, clients: AwsClients, initiative_id: str) -> dict[str, int]:
    found = {"statements": 0, "markers": 0}
    pages = clients.dynamodb.get_paginator("scan").paginate(TableName=settings.statements_table,
                                                            ProjectionExpression="pk")
    for page in pages:
        for item in page["Items"]:
            pk = item["pk"]["S"]
            if pk.startswith(f"S#{initiative_id}#"):
                found["statements"] += 1
            elif pk.startswith(f"F#{initiative_id}#"):
                found["markers"] += 1
    return found


def _versions(settings: Settings, clients: AwsClients, initiative_id: str) -> int:
    listing: Any = clients.s3.list_object_versions(Bucket=settings.export_bucket, Prefix=f"{initiative_id}/")
    return len(listing.get("Versions", [])) + len(listing.get("DeleteMarkers", []))


def _counters(settings: Settings, clients: AwsClients, initiative_id: str) -> dict[str, dict[str, Any]]:
    page = clients.dynamodb.query(TableName=settings.counters_table, KeyConditionExpression="pk = :pk",
                                  ExpressionAttributeValues={":pk": {"S": initiative_id}})
    return {item["sk"]["S"]: item for item in page["Items"]}


def test_purge_destroys_exactly_what_is_due_and_nothing_of_another_initiative(
    aws_settings: Settings, clients: AwsClients
) -> None:
    due, other = _initiative(), _initiative()
    _fill(aws_settings, clients, due, {"DE": 3, "PL": 2})
    _fill(aws_settings, clients, other, {"DE": 4})

    outcome = Jobs(aws_settings, due, today=lambda: DUE, now=lambda: NOW, aws=clients).purge()

    assert outcome.state == "done"
    assert _items(aws_settings, clients, due.id) == {"statements": 0, "markers": 0}
    assert _versions(aws_settings, clients, due.id) == 0
    assert _items(aws_settings, clients, other.id) == {"statements": 4, "markers": 4}
    assert _versions(aws_settings, clients, other.id) == 3
    counters = _counters(aws_settings, clients, due.id)
    assert counters["TOTAL#00"]["DE"]["N"] == "3" and counters["TOTAL#00"]["PL"]["N"] == "2"
    assert "FINAL" in counters
    assert "FINAL" not in _counters(aws_settings, clients, other.id)
    record = DynamoDBRetentionRecords(clients.dynamodb, aws_settings.counters_table).purge_record(due.id)
    assert record is not None
    assert record["statements"] == {"DE": 3, "PL": 2} and record["markers"] == 5
    assert record["export_objects"] == 3
    assert record["due_on"] == "2028-06-01" and record["completed_at"] == NOW.isoformat()
    assert "21 months after the start of collection" in record["reason"]


def test_purging_an_initiative_keeps_the_statements_of_one_whose_id_it_begins(
    aws_settings: Settings, clients: AwsClients
) -> None:
    # Organisers name initiatives as they like: "water" and "water-2" share a prefix, and the purge of
    # the first must not take the second's duplicate markers (its citizens could then sign twice).
    due = _initiative()
    longer = replace(due, id=f"{due.id}-2")
    _fill(aws_settings, clients, due, {"DE": 1})
    _fill(aws_settings, clients, longer, {"DE": 2})

    outcome = Jobs(aws_settings, due, today=lambda: DUE, now=lambda: NOW, aws=clients).purge()

    assert outcome.state == "done"
    assert _items(aws_settings, clients, due.id) == {"statements": 0, "markers": 0}
    assert _items(aws_settings, clients, longer.id) == {"statements": 2, "markers": 2}


def test_on_the_due_day_no_restore_point_or_backup_can_bring_the_statements_back(
    aws_settings: Settings, clients: AwsClients
) -> None:
    initiative = _initiative()
    _fill(aws_settings, clients, initiative, {"DE": 2})
    table = aws_settings.statements_table
    backup = clients.dynamodb.create_backup(TableName=table, BackupName=f"before-{initiative.id}")
    assert _recovery(aws_settings, clients) == "ENABLED"

    day_before = Jobs(aws_settings, initiative, today=lambda: date(2028, 5, 31), now=lambda: NOW, aws=clients).purge()
    assert day_before.state == "not-due" and _recovery(aws_settings, clients) == "ENABLED"
    outcome = Jobs(aws_settings, initiative, today=lambda: DUE, now=lambda: NOW, aws=clients).purge()

    assert _recovery(aws_settings, clients) == "DISABLED"
    backups = clients.dynamodb.list_backups(TableName=table, BackupType="ALL")["BackupSummaries"]
    assert backup["BackupDetails"]["BackupArn"] not in [summary["BackupArn"] for summary in backups]
    assert set(outcome.backups.destroyed) == {"point-in-time recovery", f"backup before-{initiative.id}"}
    record = DynamoDBRetentionRecords(clients.dynamodb, aws_settings.counters_table).purge_record(initiative.id)
    assert record is not None and set(record["backups"]) == set(outcome.backups.destroyed)


def test_an_upload_a_worker_left_unfinished_is_aborted_by_the_purge(
    aws_settings: Settings, clients: AwsClients
) -> None:
    initiative = _initiative()
    _fill(aws_settings, clients, initiative, {"DE": 1})
    key = f"{initiative.id}/r1/DE/support-forms-DE-en-002.xml.enc"
    upload = clients.s3.create_multipart_upload(Bucket=aws_settings.export_bucket, Key=key)
    clients.s3.upload_part(Bucket=aws_settings.export_bucket, Key=key, UploadId=upload["UploadId"], PartNumber=1,
                           Body=b"sealed part")

    Jobs(aws_settings, initiative, today=lambda: DUE, now=lambda: NOW, aws=clients).purge()

    uploads = clients.s3.list_multipart_uploads(Bucket=aws_settings.export_bucket, Prefix=f"{initiative.id}/")
    assert uploads.get("Uploads", []) == []


def test_the_day_after_the_purge_a_late_export_and_a_re_enabled_restore_window_are_found_and_destroyed(
    aws_settings: Settings, clients: AwsClients, caplog: pytest.LogCaptureFixture
) -> None:
    initiative = _initiative()
    _fill(aws_settings, clients, initiative, {"DE": 1})

    def purge_on(day: date) -> Any:
        moment = datetime(day.year, day.month, day.day, 3, 0, tzinfo=UTC)
        return Jobs(aws_settings, initiative, today=lambda: day, now=lambda: moment, aws=clients).purge()

    assert purge_on(DUE).state == "done"
    # A worker that was still running writes a part; a deploy turns recovery back on.
    clients.s3.put_object(Bucket=aws_settings.export_bucket, Key=f"{initiative.id}/r1/DE/late.xml.enc", Body=b"x")
    clients.dynamodb.update_continuous_backups(TableName=aws_settings.statements_table,
                                               PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    assert purge_on(DUE).state == "already-done"  # the same day: no second look yet
    assert _versions(aws_settings, clients, initiative.id) == 1

    with caplog.at_level("WARNING", logger="chalicelib.jobs"):
        swept = purge_on(date(2028, 6, 2))

    assert swept.state == "swept" and swept.export_objects == 1
    assert _versions(aws_settings, clients, initiative.id) == 0
    assert _recovery(aws_settings, clients) == "DISABLED"
    assert any("found after the purge had completed" in line for line in caplog.messages)
    record = DynamoDBRetentionRecords(clients.dynamodb, aws_settings.counters_table).purge_record(initiative.id)
    assert record is not None and record["found_later"] == {"export_objects": 1, "backups": 1}
    assert record["last_swept_on"] == "2028-06-02"
    assert purge_on(date(2028, 6, 3)).state == "swept"  # and every later day, finding nothing
    record = DynamoDBRetentionRecords(clients.dynamodb, aws_settings.counters_table).purge_record(initiative.id)
    assert record is not None and record["found_later"] == {"export_objects": 1, "backups": 1}


class KilledMidPage(DynamoDBStatementPurger):
    """Deletes half of its second page's keys, then dies, as a Lambda that times out would."""

    pages_deleted = 0

    def delete(self, page: DeletedPage) -> None:
        self.pages_deleted += 1
        if self.pages_deleted == 2:
            super().delete(replace(page, keys=page.keys[: len(page.keys) // 2]))
            raise TimeoutError("killed")
        super().delete(page)


def test_a_purge_killed_mid_page_never_records_less_than_it_destroyed(
    aws_settings: Settings, clients: AwsClients
) -> None:
    initiative = _initiative()
    _fill(aws_settings, clients, initiative, {"DE": 6, "PL": 6})
    records = DynamoDBRetentionRecords(clients.dynamodb, aws_settings.counters_table)
    common: dict[str, Any] = {
        "today": DUE, "now": lambda: NOW, "records": records,
        "exports": S3ExportPurger(clients.s3, aws_settings.export_bucket),
        "backups": DynamoDBBackupPurger(clients.dynamodb, aws_settings.statements_table),
    }
    killed = KilledMidPage(clients.dynamodb, aws_settings.statements_table, page_size=5)

    with pytest.raises(TimeoutError):
        purge_if_due(initiative, statements=killed, **common)

    left = _items(aws_settings, clients, initiative.id)
    record = records.purge_record(initiative.id)
    assert record is not None and "completed_at" not in record  # in progress
    assert left["statements"] + left["markers"] > 0, "the purge was killed before the end"
    assert sum(record["statements"].values()) >= 12 - left["statements"]
    assert record["markers"] >= 12 - left["markers"]

    rest = purge_if_due(initiative, statements=DynamoDBStatementPurger(clients.dynamodb, aws_settings.statements_table),
                        **common)
    assert rest.state == "done" and _items(aws_settings, clients, initiative.id) == {"statements": 0, "markers": 0}


def _record(records: DynamoDBRetentionRecords, initiative: Initiative, kind: str, day: date,
            reference: str = "") -> None:
    records.record_trigger(initiative.id, RetentionTrigger(kind, day, datetime.now(UTC), reference, "operator"))


def test_a_recorded_withdrawal_destroys_one_month_later_to_the_day(aws_settings: Settings, clients: AwsClients) -> None:
    initiative = _initiative()
    _fill(aws_settings, clients, initiative, {"DE": 2})
    _record(DynamoDBRetentionRecords(clients.dynamodb, aws_settings.counters_table), initiative, WITHDRAWN,
            date(2027, 3, 15))

    def purge_on(day: date) -> Any:
        return Jobs(aws_settings, initiative, today=lambda: day, now=lambda: NOW, aws=clients).purge()

    assert purge_on(date(2027, 4, 14)).state == "not-due"
    assert _items(aws_settings, clients, initiative.id) == {"statements": 2, "markers": 2}
    outcome = purge_on(date(2027, 4, 15))
    assert outcome.state == "done" and outcome.due_on == date(2027, 4, 15)
    assert _items(aws_settings, clients, initiative.id) == {"statements": 0, "markers": 0}


def test_a_recorded_submission_destroys_one_month_later_to_the_day(aws_settings: Settings,
                                                                  clients: AwsClients) -> None:
    initiative = _initiative()  # no submission date in its file: the operator records it, no redeploy
    _fill(aws_settings, clients, initiative, {"DE": 2})
    _record(DynamoDBRetentionRecords(clients.dynamodb, aws_settings.counters_table), initiative, SUBMITTED,
            date(2027, 12, 10))

    def purge_on(day: date) -> Any:
        return Jobs(aws_settings, initiative, today=lambda: day, now=lambda: NOW, aws=clients).purge()

    assert purge_on(date(2028, 1, 9)).state == "not-due"
    assert _items(aws_settings, clients, initiative.id) == {"statements": 2, "markers": 2}
    outcome = purge_on(date(2028, 1, 10))
    assert outcome.state == "done" and outcome.due_on == date(2028, 1, 10)
    assert _items(aws_settings, clients, initiative.id) == {"statements": 0, "markers": 0}


def test_a_legal_hold_keeps_everything_until_one_week_after_the_final_decision(
    aws_settings: Settings, clients: AwsClients
) -> None:
    initiative = _initiative()
    _fill(aws_settings, clients, initiative, {"DE": 2})
    records = DynamoDBRetentionRecords(clients.dynamodb, aws_settings.counters_table)
    _record(records, initiative, HOLD_STARTED, date(2028, 5, 20), "T-123/28")

    def purge_on(day: date) -> Any:
        return Jobs(aws_settings, initiative, today=lambda: day, now=lambda: NOW, aws=clients).purge()

    assert purge_on(DUE).state == "held"
    assert _items(aws_settings, clients, initiative.id) == {"statements": 2, "markers": 2}
    _record(records, initiative, HOLD_ENDED, date(2028, 7, 1), "T-123/28")
    assert purge_on(date(2028, 7, 7)).state == "not-due"
    assert _items(aws_settings, clients, initiative.id) == {"statements": 2, "markers": 2}
    assert purge_on(date(2028, 7, 8)).state == "done"
    assert _items(aws_settings, clients, initiative.id) == {"statements": 0, "markers": 0}


def test_nothing_is_destroyed_the_day_before_the_clock_runs_out(aws_settings: Settings, clients: AwsClients) -> None:
    initiative = _initiative()
    _fill(aws_settings, clients, initiative, {"DE": 2})

    outcome = Jobs(aws_settings, initiative, today=lambda: date(2028, 5, 31), now=lambda: NOW, aws=clients).purge()

    assert outcome.state == "not-due"
    assert _items(aws_settings, clients, initiative.id) == {"statements": 2, "markers": 2}
    assert "FINAL" not in _counters(aws_settings, clients, initiative.id)


def test_purge_that_runs_out_of_time_goes_on_next_time(aws_settings: Settings, clients: AwsClients) -> None:
    initiative = _initiative()
    _fill(aws_settings, clients, initiative, {"DE": 3, "PL": 3})
    records = DynamoDBRetentionRecords(clients.dynamodb, aws_settings.counters_table)
    common: dict[str, Any] = {
        "today": DUE, "now": lambda: NOW,
        # A small scan page, so the items of this initiative come in several pages.
        "statements": DynamoDBStatementPurger(clients.dynamodb, aws_settings.statements_table, page_size=50),
        "exports": S3ExportPurger(clients.s3, aws_settings.export_bucket), "records": records,
        "backups": DynamoDBBackupPurger(clients.dynamodb, aws_settings.statements_table),
    }

    first = purge_if_due(initiative, should_stop=lambda: True, **common)
    assert first.state == "stopped"
    rest = purge_if_due(initiative, **common)

    assert rest.state == "done"
    assert _items(aws_settings, clients, initiative.id) == {"statements": 0, "markers": 0}
    record = records.purge_record(initiative.id)
    assert record is not None and record["statements"] == {"DE": 3, "PL": 3} and record["markers"] == 6
    assert purge_if_due(initiative, **common).state == "already-done"


def test_submission_to_the_commission_brings_the_clock_forward(aws_settings: Settings, clients: AwsClients) -> None:
    initiative = replace(_initiative(), submitted_to_commission=date(2027, 11, 2))
    _fill(aws_settings, clients, initiative, {"DE": 1})

    outcome = Jobs(aws_settings, initiative, today=lambda: date(2027, 12, 2), now=lambda: NOW, aws=clients).purge()

    assert outcome.state == "done" and outcome.due_on == date(2027, 12, 2)
    assert _items(aws_settings, clients, initiative.id) == {"statements": 0, "markers": 0}


class KilledMidDelete(S3ExportPurger):
    """Dies in S3's DeleteObjects after it has removed the versions, before answering."""

    def __init__(self, clients: AwsClients, bucket: str) -> None:
        super().__init__(clients.s3, bucket)
        self._clients = clients
        self._bucket_name = bucket

    def delete_prefix(self, prefix: str, before_delete: Any = lambda number: None) -> int:
        def then_die(number: int) -> None:
            before_delete(number)
            listing: Any = self._clients.s3.list_object_versions(Bucket=self._bucket_name, Prefix=prefix)
            for version in listing.get("Versions", []):
                self._clients.s3.delete_object(Bucket=self._bucket_name, Key=version["Key"],
                                               VersionId=version["VersionId"])
            raise TimeoutError("killed")

        return super().delete_prefix(prefix, then_die)


def test_a_purge_killed_while_deleting_export_objects_has_recorded_them(
    aws_settings: Settings, clients: AwsClients
) -> None:
    initiative = _initiative()
    _fill(aws_settings, clients, initiative, {"DE": 1})
    records = DynamoDBRetentionRecords(clients.dynamodb, aws_settings.counters_table)
    common: dict[str, Any] = {
        "today": DUE, "now": lambda: NOW, "records": records,
        "statements": DynamoDBStatementPurger(clients.dynamodb, aws_settings.statements_table),
        "backups": DynamoDBBackupPurger(clients.dynamodb, aws_settings.statements_table),
    }

    with pytest.raises(TimeoutError):
        purge_if_due(initiative, exports=KilledMidDelete(clients, aws_settings.export_bucket), **common)

    assert _versions(aws_settings, clients, initiative.id) == 0
    record = records.purge_record(initiative.id)
    assert record is not None and record["export_objects"] == 3 and "completed_at" not in record


def _fill_test_phase(settings: Settings, clients: AwsClients, initiative: Initiative,
                     per_state: dict[str, int]) -> None:
    """Statements made in a test phase that never went live: kept under ``{id}~test`` with their markers
    (never exported; the counting path counts them from the stream)."""
    from chalicelib.console.records import initiative_id_in_test_phase

    store = DynamoDBStatementStore(clients.dynamodb, settings.statements_table)
    for code, count in per_state.items():
        for _ in range(count):
            record = StatementRecord(initiative_id_in_test_phase(initiative.id), code, str(uuid.uuid4()),
                                     date(2026, 11, 27), "en", 1, b"sealed bytes stand-in")
            assert store.add(record, uuid.uuid4().hex)


def test_a_withdrawn_initiative_whose_test_phase_never_went_live_loses_its_test_statements_too(
    aws_settings: Settings, clients: AwsClients, statement_stream: Any
) -> None:
    from chalicelib.counting.exactly_once import count_stream_batch
    from chalicelib.storage.counter_writer import DynamoDBCountLedger
    from chalicelib.storage.counters import DynamoDBCounterReader

    initiative = _initiative()
    test_id = f"{initiative.id}~test"
    statement_stream()  # the stream from here on
    _fill_test_phase(aws_settings, clients, initiative, {"DE": 2, "PL": 1})
    ledger = DynamoDBCountLedger(clients.dynamodb, aws_settings.counters_table)
    assert not count_stream_batch({"Records": statement_stream()}, ledger, True, lambda: date(2026, 11, 27)).get(
        "batchItemFailures")
    reader = DynamoDBCounterReader(clients.dynamodb, aws_settings.counters_table)
    assert reader.counts(test_id) == {"DE": 2, "PL": 1}
    records = DynamoDBRetentionRecords(clients.dynamodb, aws_settings.counters_table)
    _record(records, initiative, WITHDRAWN, date(2026, 10, 1))  # withdrawn before it ever went live

    outcome = Jobs(aws_settings, initiative, today=lambda: date(2026, 11, 1), now=lambda: NOW, aws=clients).purge()

    assert outcome.state == "done"
    assert _items(aws_settings, clients, test_id) == {"statements": 0, "markers": 0}
    record = records.purge_record(initiative.id)
    assert record is not None
    assert record["test_statements"] == {"DE": 2, "PL": 1} and record["test_markers"] == 3
    assert record["statements"] == {} and record["markers"] == 0
    # The deletions reach the counting path like going live's: the test counts drop to nothing, exactly once.
    assert not count_stream_batch({"Records": statement_stream()}, ledger, True, lambda: date(2026, 11, 27)).get(
        "batchItemFailures")
    assert {code: number for code, number in reader.counts(test_id).items() if number} == {}
    assert {code: number for days in reader.daily_counts(test_id).values() for code, number in days.items()
            if number} == {}


def test_a_purge_stopped_half_way_through_test_statements_goes_on_and_counts_them_once(
    aws_settings: Settings, clients: AwsClients
) -> None:
    initiative = _initiative()
    _fill(aws_settings, clients, initiative, {"DE": 2})
    _fill_test_phase(aws_settings, clients, initiative, {"PL": 3})
    records = DynamoDBRetentionRecords(clients.dynamodb, aws_settings.counters_table)
    common: dict[str, Any] = {
        "today": DUE, "now": lambda: NOW, "records": records,
        "statements": DynamoDBStatementPurger(clients.dynamodb, aws_settings.statements_table, page_size=50),
        "exports": S3ExportPurger(clients.s3, aws_settings.export_bucket),
        "backups": DynamoDBBackupPurger(clients.dynamodb, aws_settings.statements_table),
    }

    assert purge_if_due(initiative, should_stop=lambda: True, **common).state == "stopped"
    rest = purge_if_due(initiative, **common)

    assert rest.state == "done"
    assert _items(aws_settings, clients, f"{initiative.id}~test") == {"statements": 0, "markers": 0}
    assert _items(aws_settings, clients, initiative.id) == {"statements": 0, "markers": 0}
    record = records.purge_record(initiative.id)
    assert record is not None and record["statements"] == {"DE": 2} and record["markers"] == 2
    assert record["test_statements"] == {"PL": 3} and record["test_markers"] == 3


def test_a_test_statement_made_after_the_purge_is_found_by_the_next_days_sweep(
    aws_settings: Settings, clients: AwsClients
) -> None:
    initiative = _initiative()
    _fill(aws_settings, clients, initiative, {"DE": 1})

    def purge_on(day: date) -> Any:
        moment = datetime(day.year, day.month, day.day, 3, 0, tzinfo=UTC)
        return Jobs(aws_settings, initiative, today=lambda: day, now=lambda: moment, aws=clients).purge()

    assert purge_on(DUE).state == "done"
    _fill_test_phase(aws_settings, clients, initiative, {"DE": 1})

    swept = purge_on(date(2028, 6, 2))

    assert swept.state == "swept"
    assert _items(aws_settings, clients, f"{initiative.id}~test") == {"statements": 0, "markers": 0}
    record = DynamoDBRetentionRecords(clients.dynamodb, aws_settings.counters_table).purge_record(initiative.id)
    assert record is not None
    assert {name: number for name, number in record["found_later"].items() if name.startswith("test_")} == {
        "test_statements": 1, "test_markers": 1}
