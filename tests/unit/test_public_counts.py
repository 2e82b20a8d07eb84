"""GET /counts.json: other sites (the organisers' campaign pages) read the figures with a script."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date

import pytest
from chalice.test import Client

import app as app_module
from chalicelib import services
from tests.fakes import web_only_services
from tests.unit.test_conditional_get import SECURITY_HEADERS


@pytest.fixture
def client() -> Iterator[Client]:
    services.use(web_only_services(date(2026, 11, 27), {"PL": 3}, counts_cache_seconds=30))
    with Client(app_module.app) as test_client:
        yield test_client
    services.use(None)


def test_a_campaign_page_on_another_site_can_read_the_counts_as_json(client: Client) -> None:
    response = client.http.get("/counts.json")
    # Header names are case-insensitive in HTTP: compare them as a browser does.
    headers = {name.lower(): value for name, value in response.headers.items()}

    assert response.status_code == 200
    assert headers["content-type"] == "application/json"
    assert headers["access-control-allow-origin"] == "*"  # a script of any site may read it
    assert headers["cache-control"] == "public, max-age=0, s-maxage=30, stale-while-revalidate=60"
    for name, value in SECURITY_HEADERS.items():
        assert headers[name.lower()] == value, name
    assert {state["code"]: state["count"] for state in json.loads(response.body)["member_states"]}["PL"] == 3
