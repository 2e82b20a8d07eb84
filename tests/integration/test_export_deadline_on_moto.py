"""The export worker on moto stops at the retention deadline: it decrypts nothing and does not go on."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from chalicelib.config import Settings
from chalicelib.exporting import layout
from chalicelib.jobs import Jobs
from chalicelib.signing.ports import StatementRecord
from chalicelib.storage.clients import AwsClients
from chalicelib.storage.statements import DynamoDBStatementStore
from tests.unit.export_specimens import demo_initiative

LAST_DAY = date(2028, 5, 31)
DUE = date(2028, 6, 1)  # 21 months after the demo's collection start
NOW = datetime(2028, 5, 31, 22, 0, tzinfo=UTC)


class NeverOpen:
    opened = 0

    def open(self, sealed: bytes, expected_context: object) -> bytes:
        NeverOpen.opened += 1
        raise AssertionError("a statement was decrypted past the retention deadline")


@pytest.fixture(scope="module")
def clients(aws_settings: Settings) -> AwsClients:
    made = AwsClients(aws_settings)
    _ = made.s3
    return made


def test_a_worker_invoked_on_the_due_day_for_a_run_planned_the_day_before_decrypts_nothing_and_stops(
    aws_settings: Settings, clients: AwsClients
) -> None:
    initiative = replace(demo_initiative(), id=f"dl-{uuid.uuid4().hex[:10]}")
    store = DynamoDBStatementStore(clients.dynamodb, aws_settings.statements_table)
    for _ in range(2):
        assert store.add(StatementRecord(initiative.id, "DE", str(uuid.uuid4()), date(2026, 11, 27), "en", 1,
                                         b"sealed"), uuid.uuid4().hex)
    # Fan-out through Lambda: moto runs no export_worker, so any invocation to go on would fail the test.
    settings = replace(aws_settings, export_fan_out="lambda")

    def jobs_on(day: date) -> Jobs:
        return Jobs(settings, initiative, today=lambda: day, now=lambda: NOW, aws=clients,
                    opener_factory=NeverOpen)

    planned = jobs_on(LAST_DAY).run.start(LAST_DAY.isoformat())
    assert planned.pending == ("DE",)

    result = jobs_on(DUE).work({"action": "unit", "run_id": LAST_DAY.isoformat(), "member_state": "DE"})

    assert result == {"run_id": LAST_DAY.isoformat(), "member_state": "DE", "complete": False,
                      "retention_over": True}
    assert NeverOpen.opened == 0
    assert jobs_on(DUE).work({"action": "start", "run_id": "late"})["retention_over"] is True


def test_the_daily_schedule_starts_no_run_from_the_due_day_on(aws_settings: Settings, clients: AwsClients) -> None:
    initiative = replace(demo_initiative(), id=f"dl-{uuid.uuid4().hex[:10]}")
    settings = replace(aws_settings, export_fan_out="lambda")

    Jobs(settings, initiative, today=lambda: DUE, now=lambda: NOW, aws=clients).schedule_export()

    listed = clients.s3.list_objects_v2(Bucket=aws_settings.export_bucket,
                                        Prefix=layout.plan_key(initiative.id, DUE.isoformat()))
    assert listed.get("KeyCount", 0) == 0
