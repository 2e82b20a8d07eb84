"""The retention clock on moto: the purge destroys exactly one initiative's statements, markers and exports,
keeps its counts (marked final) and an audit record, and leaves every other initiative alone."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest

from chalicelib.config import Settings
from chalicelib.exporting.retention import purge_if_due
from chalicelib.initiative import Initiative
from chalicelib.jobs import Jobs
from chalicelib.signing.ports import StatementRecord
from chalicelib.storage.clients import AwsClients
from chalicelib.storage.export_files import S3ExportPurger
from chalicelib.storage.retention_records import DynamoDBRetentionRecords
from chalicelib.storage.statement_purger import DynamoDBStatementPurger
from chalicelib.storage.statements import DynamoDBStatementStore
from tests.integration.conftest import write_counts
from tests.unit.export_specimens import demo_initiative

DUE = date(2028, 6, 1)  # 21 months after the demo's collection start, 2026-09-01
NOW = datetime(2028, 6, 1, 3, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def clients(aws_settings: Settings) -> AwsClients:
    made = AwsClients(aws_settings)
    _ = made.s3
    return made


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
