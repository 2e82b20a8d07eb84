"""Count lag on `make run`: from the receipt page to the count that moved.

Starts the local system as `make run` does (``python -m chalicelib.local``, free ports, an initiative
collecting today), signs over HTTP as a browser would, then polls until the total moves: in the counters
table (the stream pump and count function's part) and in the public figures, GET /counts.json (what a
person sees; the page's own cache adds its period). Each figure is the median of ROUNDS signatures.
"""

from __future__ import annotations

import json
import re
import statistics
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

from bench import BenchError, Figure, progress
from bench.identities import submission
from chalicelib.local.system_process import LocalSystemError, running_local_system

ROUNDS = 5
FIRST_INDEX = 4_000_000  # made-up people no other benchmark uses
_START_SECONDS = 90.0
_GIVE_UP_SECONDS = 60.0
_POLL_SECONDS = 0.05


@contextmanager
def local_system() -> Iterator[tuple[str, str]]:
    """`make run` on free ports until the block ends: (the app's URL, moto's URL)."""
    try:
        with running_local_system() as system:
            progress(f"local system serving {system.url}")
            yield system.url, system.moto_url
    except LocalSystemError as error:
        raise BenchError(str(error).splitlines()[0]) from None


def _sign(url: str, index: int) -> None:
    code, fields = submission(index)
    with urllib.request.urlopen(f"{url}/sign/{code}?lang=en", timeout=10) as page:  # noqa: S310 - loopback
        token = re.search(rb'name="form_token" value="([^"]+)"', page.read())
    if token is None:
        raise BenchError(f"the form for {code} carries no token")
    body = urlencode({"form_token": token.group(1).decode(), "lang": "en", "homepage": "", **fields}).encode()
    request = urllib.request.Request(f"{url}/sign/{code}?lang=en", data=body, method="POST",  # noqa: S310
                                     headers={"content-type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(request, timeout=30) as receipt:  # noqa: S310 - loopback only
        if b"receipt" not in receipt.read():
            raise BenchError(f"made-up statement number {index} got no receipt")


def _counters_total(moto_url: str) -> Callable[[], int]:
    import boto3.session

    from chalicelib.storage.counters import DynamoDBCounterReader

    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",  # noqa: S106
                                    region_name="eu-central-1")
    reader = DynamoDBCounterReader(session.client("dynamodb", endpoint_url=moto_url), "eci-dev-counters")
    return lambda: sum(reader.counts("demo-2026").values())


def _visible_total(url: str) -> Callable[[], int] | None:
    def total() -> int:
        with urllib.request.urlopen(url + "/counts.json", timeout=10) as response:  # noqa: S310 - loopback only
            document: dict[str, Any] = json.loads(response.read())
        return int(document["total"])

    try:
        total()
    except urllib.error.HTTPError:
        return None  # no public figures yet: only the counters' lag is measured
    return total


def _lag(before: int, read_total: Callable[[], int], receipt_at: float) -> float:
    while time.monotonic() - receipt_at < _GIVE_UP_SECONDS:
        if read_total() > before:
            return time.monotonic() - receipt_at
        time.sleep(_POLL_SECONDS)
    raise BenchError(f"the count did not move within {_GIVE_UP_SECONDS} s of the receipt")


def figures() -> list[Figure]:
    progress(f"count lag: starting the local system, then {ROUNDS} signatures over HTTP")
    counters: list[float] = []
    visible: list[float] = []
    with local_system() as (url, moto_url):
        counters_total = _counters_total(moto_url)
        visible_total = _visible_total(url)
        for index in range(FIRST_INDEX, FIRST_INDEX + ROUNDS):
            before = counters_total()
            shown_before = visible_total() if visible_total is not None else 0
            _sign(url, index)
            receipt_at = time.monotonic()
            counters.append(_lag(before, counters_total, receipt_at))
            if visible_total is not None:
                visible.append(_lag(shown_before, visible_total, receipt_at))
    results = [Figure("count_lag_counters_seconds", f"{statistics.median(counters):.2f}", "s")]
    if visible:
        results.append(Figure("count_lag_visible_seconds", f"{statistics.median(visible):.2f}", "s"))
    return results
