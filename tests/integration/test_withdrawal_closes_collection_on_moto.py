"""A withdrawal the operator records closes the collection from its day on, without a redeploy.

Otherwise the form kept taking statements of a withdrawn initiative until the collection's end: each
citizen got a receipt for an initiative that no longer exists, and after the purge (one month after the
withdrawal) each new statement lived until the next day's sweep.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

import pytest
from chalice.test import Client

import app as app_module
from chalicelib import services
from chalicelib.config import Settings
from chalicelib.exporting.retention import WITHDRAWN, RetentionTrigger
from chalicelib.storage.retention_records import DynamoDBRetentionRecords

WITHDRAWN_ON = date(2027, 3, 15)  # inside the demo's collection period (2026-09-01 to 2027-08-31)
FORM = {"content-type": "application/x-www-form-urlencoded"}
POLISH_CITIZEN = {"full_first_names": "Zofia Maria", "family_names": "Wiśniewska-Kowal",
                  "id_number": "44051401359", "privacy_accepted": "yes"}


@pytest.fixture
def withdrawn(aws_settings: Settings) -> Iterator[Any]:
    """The demo initiative with its withdrawal recorded by the operator (a fresh table state per test)."""
    import boto3

    dynamodb = boto3.client("dynamodb", region_name=aws_settings.region)
    for table in (aws_settings.statements_table, aws_settings.counters_table):
        for item in dynamodb.scan(TableName=table)["Items"]:
            dynamodb.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})
    DynamoDBRetentionRecords(dynamodb, aws_settings.counters_table).record_trigger(
        "demo-2026", RetentionTrigger(WITHDRAWN, WITHDRAWN_ON, datetime.now(UTC), "", "operator"))
    yield dynamodb
    services.use(None)


def _client_on(settings: Settings, day: date) -> Client:
    services.use(services.Services(settings, services.check_initiative_file(), today=lambda: day))
    return Client(app_module.app)


def _statements(dynamodb: Any, settings: Settings) -> int:
    return sum(item["pk"]["S"].startswith("S#") for item in dynamodb.scan(TableName=settings.statements_table)["Items"])


def test_the_day_before_the_withdrawal_citizens_can_still_sign(withdrawn: Any, aws_settings: Settings) -> None:
    with _client_on(aws_settings, date(2027, 3, 14)) as client:
        page = client.http.get("/sign/PL?lang=en")

    assert page.status_code == 200 and b'name="form_token"' in page.body


def test_from_the_day_of_the_withdrawal_the_form_says_collection_is_closed(withdrawn: Any,
                                                                         aws_settings: Settings) -> None:
    with _client_on(aws_settings, WITHDRAWN_ON) as client:
        form = client.http.get("/sign/PL?lang=en")
        home = client.http.get("/?lang=en")

    assert form.status_code == 200 and b"Collection is closed" in form.body
    assert b'name="form_token"' not in form.body
    assert b"Collection of statements of support ended on" in home.body


def test_a_statement_sent_after_the_withdrawal_is_refused_and_nothing_is_stored(withdrawn: Any,
                                                                              aws_settings: Settings) -> None:
    with _client_on(aws_settings, date(2027, 3, 14)) as client:
        token = re.search(rb'name="form_token" value="([^"]+)"', client.http.get("/sign/PL?lang=en").body)
    assert token  # the form was opened the day before, and sent on the day of the withdrawal
    body = urlencode({"form_token": token.group(1).decode(), "lang": "en", "homepage": "", **POLISH_CITIZEN})

    with _client_on(aws_settings, WITHDRAWN_ON) as client:
        response = client.http.post("/sign/PL?lang=en", headers=FORM, body=body)

    assert response.status_code == 403 and b"Collection is closed" in response.body
    assert _statements(withdrawn, aws_settings) == 0
