"""What a browser and CloudFront read from a page's headers: its type, language, caching and security."""

from __future__ import annotations

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


def _headers(response: object) -> dict[str, str]:
    # Header names are case-insensitive in HTTP: compare them as a browser does.
    return {name.lower(): value for name, value in response.headers.items()}  # type: ignore[attr-defined]


def test_the_initiative_page_in_french_is_french_html_cached_by_cloudfront_per_language(client: Client) -> None:
    headers = _headers(client.http.get("/?lang=fr"))

    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["content-language"] == "fr"
    assert headers["vary"] == "Accept-Language"  # CloudFront keeps one copy per language, not the first one
    assert headers["cache-control"] == "public, max-age=0, s-maxage=30, stale-while-revalidate=60"
    for name, value in SECURITY_HEADERS.items():
        assert headers[name.lower()] == value, name


def test_a_form_page_in_polish_is_never_cached_and_carries_the_security_headers(client: Client) -> None:
    headers = _headers(client.http.get("/sign/PL?lang=pl"))

    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["content-language"] == "pl"
    assert headers["cache-control"] == "no-store"  # each form carries its own token
    assert headers["vary"] == "Accept-Language"
    for name, value in SECURITY_HEADERS.items():
        assert headers[name.lower()] == value, name
