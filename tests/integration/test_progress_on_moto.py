"""A visitor sees the initiative's progress, per Member State against its minimum, on moto's counters table."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

import pytest
from chalice.test import Client

import app as app_module
from chalicelib import services
from chalicelib.config import Settings
from tests.integration.conftest import write_counts
from tests.unit.test_conditional_get import SECURITY_HEADERS

VIEWING_DAY = date(2026, 11, 27)  # the demo initiative collects 2026-09-01 .. 2027-08-31
NOW = 1_795_766_400.0  # 2026-11-27T08:00:00Z
NARROW_NO_BREAK_SPACE = "\u202f"  # CLDR's French group separator
COUNTS = {
    "DE": 176_812,  # over its minimum of 69,120 (720-seat table: the demo registered on 2026-07-01)
    "FR": 58_320,  # exactly its minimum
    "MT": 4_319,  # one short of 4,320
    "PL": 12_345,
}


def _write_counts(dynamodb: Any, settings: Settings, counts: dict[str, int], initiative: str = "demo-2026") -> None:
    write_counts(dynamodb, settings.counters_table, initiative, counts)


@pytest.fixture
def current(empty_tables: Settings) -> Iterator[services.Services]:
    import boto3

    _write_counts(boto3.client("dynamodb", region_name=empty_tables.region), empty_tables, COUNTS)
    wired = services.Services(empty_tables, services.check_initiative_file(), today=lambda: VIEWING_DAY,
                              now=lambda: NOW)
    services.use(wired)
    yield wired
    services.use(None)


@pytest.fixture
def client(current: services.Services) -> Iterator[Client]:
    with Client(app_module.app) as test_client:
        yield test_client


@pytest.fixture
def queries(current: services.Services) -> list[str]:
    """Every DynamoDB Query the app's own client sends: its table and what it reads there (the counts'
    totals, TOTAL#, or the operator's records, TRIGGER#, where the pages find a withdrawal)."""
    sent: list[str] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        prefix = params.get("ExpressionAttributeValues", {}).get(":prefix", {}).get("S", "")
        sent.append(f"{params['TableName']} {prefix}")

    current._aws.dynamodb.meta.events.register("provide-client-params.dynamodb.Query", record)
    return sent


def _headers(response: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in response.headers.items()}


def _row(page: str, state_name: str) -> str:
    start = page.index(f'<th scope="row">{state_name}</th>')
    return page[start:page.index("</tr>", start)]


def test_english_visitor_sees_each_states_signatories_against_its_minimum(client: Client) -> None:
    page = client.http.get("/?lang=en").body.decode()

    assert "251,796 signatories of 1,000,000" in page
    assert '<progress max="1000000" value="251796"' in page
    assert "278 days left to sign." in page
    germany = _row(page, "Germany")
    assert "<span>176,812</span>" in germany and "<td>69,120</td>" in germany
    assert 'aria-label="255% of the minimum"' in germany
    assert "Reached" in germany
    assert "Reached" in _row(page, "France")
    malta = _row(page, "Malta")
    assert "<span>4,319</span>" in malta and "<td>4,320</td>" in malta and "Reached" not in malta
    belgium = _row(page, "Belgium")
    assert "<span>0</span>" in belgium and "<td>15,840</td>" in belgium
    assert "2 of 7 Member States have reached their minimum number of signatories." in page
    assert "1 July 2026" in page  # the registration date that chose the thresholds


def test_french_visitor_sees_numbers_grouped_as_french_writes_them(client: Client) -> None:
    page = client.http.get("/", headers={"accept-language": "fr-BE,fr;q=0.9"}).body.decode()

    allemagne = _row(page, "Allemagne")
    group = NARROW_NO_BREAK_SPACE
    assert f"<span>176{group}812</span>" in allemagne and f"<td>69{group}120</td>" in allemagne
    assert "Atteint" in allemagne
    assert f"251{group}796 signataires sur 1{group}000{group}000" in page
    assert "2 États membres sur 7 ont atteint leur nombre minimal de signataires." in page
    assert "Il reste 278 jours pour signer." in page


def test_the_count_is_announced_politely_to_assistive_technology(client: Client) -> None:
    page = client.http.get("/?lang=en").body.decode()

    assert '<p class="total" aria-live="polite">251,796 signatories of 1,000,000</p>' in page
    assert 'aria-labelledby="progress-heading"' in page
    assert "style=" not in page and "<script" not in page  # the CSP allows neither


def test_counts_json_gives_the_same_figures(client: Client) -> None:
    response = client.http.get("/counts.json")

    assert response.status_code == 200
    assert _headers(response)["content-type"] == "application/json"
    document = json.loads(response.body)
    states = {state["code"]: state for state in document.pop("member_states")}
    assert document == {
        "initiative": "demo-2026",
        "registration_number": "ECI(2026)000042",
        "registration_date": "2026-07-01",
        "collection_start": "2026-09-01",
        "collection_end": "2027-08-31",
        "days_left": 278,
        "total": 251_796,
        "goal": 1_000_000,
        "states_reached": 2,
        "states_needed": 7,
        "as_of": "2026-11-27T08:00:00Z",
    }
    assert len(states) == 27
    assert states["DE"] == {"code": "DE", "count": 176_812, "threshold": 69_120, "reached": True}
    assert states["MT"] == {"code": "MT", "count": 4_319, "threshold": 4_320, "reached": False}
    assert states["BE"] == {"code": "BE", "count": 0, "threshold": 15_840, "reached": False}


@pytest.mark.parametrize("path", ["/?lang=en", "/counts.json"])
def test_page_and_json_may_be_kept_by_cloudfront_for_the_cache_period(
    client: Client, current: services.Services, path: str
) -> None:
    headers = _headers(client.http.get(path))

    period = current.settings.counts_cache_seconds
    assert headers["cache-control"] == f"public, max-age=0, s-maxage={period}, stale-while-revalidate=60"
    assert headers["etag"].startswith('"') and len(headers["etag"]) > 20
    for name, value in SECURITY_HEADERS.items():
        assert headers[name.lower()] == value, name


def test_the_page_varies_by_language_and_the_json_does_not(client: Client) -> None:
    english = client.http.get("/", headers={"accept-language": "en"})
    french = client.http.get("/", headers={"accept-language": "fr"})
    json_en = client.http.get("/counts.json", headers={"accept-language": "en"})
    json_fr = client.http.get("/counts.json", headers={"accept-language": "fr"})

    assert _headers(english)["vary"] == "Accept-Language"
    assert _headers(english)["etag"] != _headers(french)["etag"]
    assert "vary" not in _headers(json_en)
    assert json_en.body == json_fr.body and _headers(json_en)["etag"] == _headers(json_fr)["etag"]


@pytest.mark.parametrize("path", ["/?lang=fr", "/counts.json"])
def test_a_visitor_who_has_the_current_figures_gets_304_and_no_body(client: Client, path: str) -> None:
    first = client.http.get(path)
    tag = _headers(first)["etag"]

    again = client.http.get(path, headers={"if-none-match": tag})

    assert again.status_code == 304
    assert again.body == b""
    assert _headers(again)["etag"] == tag
    assert _headers(again)["cache-control"] == _headers(first)["cache-control"]
    assert _headers(again)["content-type"] == _headers(first)["content-type"]
    assert _headers(again)["content-security-policy"] == SECURITY_HEADERS["Content-Security-Policy"]


def test_after_new_signatories_the_old_tag_gets_the_new_figures(
    client: Client, current: services.Services, aws_settings: Settings
) -> None:
    import boto3

    tag = _headers(client.http.get("/counts.json"))["etag"]
    write_counts(boto3.client("dynamodb", region_name=aws_settings.region), aws_settings.counters_table,
                 "demo-2026", {"MT": 1}, shard=3)  # one more Maltese signatory, on another counter shard
    services.use(services.Services(current.settings, current.initiative, today=current.today,
                                   now=lambda: NOW + current.settings.counts_cache_seconds))

    response = client.http.get("/counts.json", headers={"if-none-match": tag})

    assert response.status_code == 200
    assert json.loads(response.body)["states_reached"] == 3


def test_a_burst_of_fifty_views_in_one_period_reads_the_counts_and_the_withdrawal_once(
    client: Client, queries: list[str], aws_settings: Settings
) -> None:
    for index in range(50):
        path = "/counts.json" if index % 5 == 0 else f"/?lang={'fr' if index % 2 else 'en'}"
        assert client.http.get(path).status_code == 200

    assert sorted(queries) == [f"{aws_settings.counters_table} TOTAL#", f"{aws_settings.counters_table} TRIGGER#"]


def test_fifty_views_arriving_at_once_on_threads_read_dynamodb_once(
    current: services.Services, queries: list[str], aws_settings: Settings
) -> None:
    start = threading.Barrier(50)

    def view(_: int) -> int:
        start.wait()
        return current.counters.counts("demo-2026")["DE"]

    with ThreadPoolExecutor(max_workers=50) as pool:
        seen = list(pool.map(view, range(50)))

    assert seen == [176_812] * 50
    assert queries == [f"{aws_settings.counters_table} TOTAL#"]


def test_the_next_period_reads_dynamodb_again(client: Client, current: services.Services,
                                              queries: list[str], aws_settings: Settings) -> None:
    clock = [NOW]
    current.now = lambda: clock[0]  # the cached reader was given this Services' clock
    client.http.get("/counts.json")
    client.http.get("/counts.json")
    clock[0] += current.settings.counts_cache_seconds

    client.http.get("/counts.json")

    table = aws_settings.counters_table
    assert sorted(queries) == [f"{table} TOTAL#"] * 2 + [f"{table} TRIGGER#"] * 2
