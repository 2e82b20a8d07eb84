"""`make run`: a person signs, and the count rises by itself (the stream pump runs the count function)."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import date, timedelta
from urllib.parse import urlencode

import pytest

from chalicelib.config import PROJECT_ROOT
from chalicelib.storage.counters import DynamoDBCounterReader

POLISH_CITIZEN = {
    "full_first_names": "Zofia Maria",
    "family_names": "Wiśniewska-Kowal",
    "id_number": "44051401359",
    "privacy_accepted": "yes",
}
# Not a timing assertion (bench/count_lag.py measures the lag): only long enough never to fail by chance.
PATIENCE_SECONDS = 30.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    demo = json.loads((PROJECT_ROOT / "initiatives" / "demo.json").read_text(encoding="utf-8"))
    today = date.today()
    demo["registration_date"] = (today - timedelta(days=30)).isoformat()
    demo["collection"] = {"start": (today - timedelta(days=1)).isoformat(),
                          "end": (today + timedelta(days=300)).isoformat()}
    initiative = tmp_path_factory.mktemp("initiative") / "initiative.json"
    initiative.write_text(json.dumps(demo), encoding="utf-8")
    port, moto_port = _free_port(), _free_port()
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "chalicelib.local", "--port", str(port), "--moto-port", str(moto_port)],
        cwd=PROJECT_ROOT, env={**_without_aws_endpoint(), "INITIATIVE_FILE": str(initiative)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(url + "/", timeout=2):  # noqa: S310 - loopback only
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                output = process.stdout.read() if process.stdout else ""
                pytest.fail(f"the local system did not start:\n{output}")
            time.sleep(0.3)
    yield url, f"http://127.0.0.1:{moto_port}"
    process.terminate()
    process.wait(timeout=15)


def _without_aws_endpoint() -> dict[str, str]:
    import os

    # The session's own moto (tests' fixtures) is not this system's: it starts its own.
    return {name: value for name, value in os.environ.items() if name != "AWS_ENDPOINT_URL"}


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
