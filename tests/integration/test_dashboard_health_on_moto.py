"""The dashboard's export runs and counting health on moto: the recount's records, the failure queue's depth,
read by the console's action and shown to a signed-in viewer."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from datetime import date

import pytest
from chalice.test import Client

import app as app_module
from chalicelib import services
from chalicelib.config import Settings
from chalicelib.counting.mapping_settings import REPAIR_AFTER_SECONDS
from chalicelib.local.stream_events import scheduled_event
from chalicelib.signing.ports import StatementRecord
from chalicelib.signing.statement_id import new_statement_id
from chalicelib.storage.console_table import ConsoleHealthSource, DynamoDBHealthRecords
from chalicelib.storage.statements import DynamoDBStatementStore
from tests.integration.organiser_console import create_account, first_sign_in, get_as

INITIATIVE = "demo-2026"  # the configured initiative: the scheduled recount recounts it


def _queue_url(settings: Settings) -> str:
    import boto3

    url: str = boto3.client("sqs", region_name=settings.region).get_queue_url(
        QueueName=settings.count_failure_queue)["QueueUrl"]
    return url


@pytest.fixture
def failure_queue(aws_settings: Settings) -> Iterator[str]:
    import boto3

    sqs = boto3.client("sqs", region_name=aws_settings.region)
    url = _queue_url(aws_settings)

    def drain() -> None:  # not PurgeQueue: SQS allows one a minute
        while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            for message in messages:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    drain()
    yield url
    drain()


@pytest.fixture
def current(empty_tables: Settings) -> Iterator[services.Services]:
    configured = services.Services(empty_tables, services.check_initiative_file(), today=lambda: date(2026, 11, 27))
    services.use(configured)
    yield configured
    services.use(None)


def _recount_later(client: Client, settings: Settings) -> None:
    """The scheduled recount, its clock past the repair's threshold: uncounted statements get repaired."""
    now = services.current()
    services.use(services.Services(settings, services.check_initiative_file(), today=lambda: date(2026, 11, 27),
                                   now=lambda: time.time() + REPAIR_AFTER_SECONDS + 1))
    try:
        client.lambda_.invoke("recount_statements", scheduled_event("recount_statements", settings.region))
    finally:
        services.use(now)


def _sign(settings: Settings, member_state: str) -> None:
    import boto3

    store = DynamoDBStatementStore(boto3.client("dynamodb", region_name=settings.region), settings.statements_table)
    record = StatementRecord(INITIATIVE, member_state, new_statement_id(date(2026, 11, 27)), date(2026, 11, 27),
                             "en", 1, b"sealed")
    assert store.add(record, uuid.uuid4().hex)


def test_the_failure_queue_depth_is_what_sqs_reports(aws_settings: Settings, failure_queue: str) -> None:
    import boto3

    sqs = boto3.client("sqs", region_name=aws_settings.region)
    source = ConsoleHealthSource(boto3.client("dynamodb", region_name=aws_settings.region),
                                 aws_settings.console_table, sqs, aws_settings.count_failure_queue)
    assert source.failed_batches() == 0
    for number in range(3):  # what Lambda sends: the shard and the sequence numbers, nothing personal
        sqs.send_message(QueueUrl=failure_queue, MessageBody=f'{{"batch": {number}}}')

    assert source.failed_batches() == 3
    assert ConsoleHealthSource(source._client, aws_settings.console_table, sqs, "no-such-queue").failed_batches() \
        is None


def test_a_viewer_sees_the_recounts_lag_repairs_and_dead_letters_on_the_dashboard(
    current: services.Services, empty_tables: Settings, failure_queue: str,
) -> None:
    import boto3

    for state in ("PT", "PT", "IE"):
        _sign(empty_tables, state)  # stored, never counted: their stream records were discarded
    boto3.client("sqs", region_name=empty_tables.region).send_message(QueueUrl=failure_queue, MessageBody="{}")
    with Client(app_module.app) as client:
        _recount_later(client, empty_tables)

        records = DynamoDBHealthRecords(boto3.client("dynamodb", region_name=empty_tables.region),
                                        empty_tables.console_table)
        last = records.last_recount(INITIATIVE)
        assert last is not None and last.repairs == {"PT": (2, 0), "IE": (1, 0)} and last.waiting == 0
        [repair] = records.repairs(INITIATIVE, 10)
        assert repair == last

        session = first_sign_in(client, create_account(empty_tables, f"viewer{uuid.uuid4().hex[:8]}@example.org",
                                                       "viewer"))
        page = get_as(client, session, "/organiser").body.decode()

    assert "0 statements stored but not yet counted" in page
    assert re.search(rf'<th scope="row">{last.at[:16].replace("T", " ")}</th><td>3</td><td>0</td><td>IE, PT</td>',
                     page)
    assert '<dd id="dead-letters">1 batch of stream records' in page
