"""Deployed, the app answers only what CloudFront forwards: the execute-api address would skip WAF."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from chalice.test import Client

import app as app_module
from chalicelib import services
from chalicelib.web.views import ORIGIN_VERIFY_HEADER
from tests.fakes import web_only_services

SECRET = "s3cret-shared-by-cloudfront-and-the-functions-only"


@pytest.fixture(params=[SECRET, ""], ids=["deployed", "local"])
def client(request: pytest.FixtureRequest) -> Iterator[tuple[Client, str]]:
    services.use(web_only_services(date(2026, 11, 27), {"PL": 3}, origin_verify_secret=request.param))
    with Client(app_module.app) as test_client:
        yield test_client, request.param
    services.use(None)


@pytest.mark.parametrize("path", ["/", "/sign/PL", "/counts.json", "/assets/style.css"])
def test_a_request_through_cloudfront_is_served(client: tuple[Client, str], path: str) -> None:
    test_client, secret = client
    assert test_client.http.get(path, headers={ORIGIN_VERIFY_HEADER: secret}).status_code == 200


@pytest.mark.parametrize("given", [None, "", "wrong", SECRET[:-1]], ids=["none", "empty", "wrong", "prefix"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_request_past_cloudfront_finds_no_page_where_a_secret_is_set(
    client: tuple[Client, str], given: str | None, method: str
) -> None:
    test_client, secret = client
    headers = {"accept-language": "de-DE"} if given is None else {ORIGIN_VERIFY_HEADER: given,
                                                                   "accept-language": "de-DE"}
    response = test_client.http.request(method, "/sign/PL", headers=headers, body=b"")
    if not secret:
        assert response.status_code in (200, 400, 415, 422)  # locally the app answers as usual
        return
    assert response.status_code == 404
    assert b'<html lang="de">' in response.body  # the usual error page, in the visitor's language
    assert SECRET.encode() not in response.body
