"""`make run`: a person signs, and the count rises by itself (the stream pump runs the count function)."""

from __future__ import annotations

import re
import time
import urllib.request
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest

from chalicelib.local.system_process import running_local_system
from chalicelib.storage.counters import DynamoDBCounterReader

POLISH_CITIZEN = {
    "full_first_names": "Zofia Maria",
    "family_names": "Wiśniewska-Kowal",
    "id_number": "44051401359",
    "privacy_accepted": "yes",
}
# Not a timing assertion (bench/count_lag.py measures the lag): only long enough never to fail by chance.
PATIENCE_SECONDS = 30.0


@pytest.fixture(scope="module")
def running() -> Iterator[tuple[str, str]]:
    with running_local_system() as system:
        yield system.url, system.moto_url


def _polish_count(moto_url: str) -> int:
    import boto3.session

    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                    region_name="eu-central-1")
    reader = DynamoDBCounterReader(session.client("dynamodb", endpoint_url=moto_url), "eci-dev-counters")
    return reader.counts("demo-2026").get("PL", 0)


def test_a_polish_citizen_signs_on_make_run_and_polands_count_rises_by_itself(running: tuple[str, str]) -> None:
    url, moto_url = running
    with urllib.request.urlopen(url + "/sign/PL?lang=en", timeout=10) as page:  # noqa: S310 - loopback only
        token = re.search(rb'name="form_token" value="([^"]+)"', page.read())
    assert token
    body = urlencode({"form_token": token.group(1).decode(), "lang": "en", "homepage": "", **POLISH_CITIZEN})
    request = urllib.request.Request(url + "/sign/PL?lang=en", data=body.encode(), method="POST",  # noqa: S310
                                     headers={"content-type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(request, timeout=30) as receipt:  # noqa: S310 - loopback only
        assert b"receipt" in receipt.read()

    deadline = time.monotonic() + PATIENCE_SECONDS
    while _polish_count(moto_url) == 0 and time.monotonic() < deadline:
        time.sleep(0.1)

    assert _polish_count(moto_url) == 1
