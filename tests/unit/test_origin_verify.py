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


DEPLOYED_API = {"AWS_LAMBDA_FUNCTION_NAME": "eci-dev", "_HANDLER": "app.app"}


def test_deployed_api_function_without_the_origin_secret_refuses_to_start() -> None:
    import os
    import subprocess
    import sys

    from chalicelib.config import PROJECT_ROOT

    environment = {name: value for name, value in os.environ.items() if name != "ORIGIN_VERIFY_SECRET"}
    started = subprocess.run([sys.executable, "-c", "import app"], cwd=PROJECT_ROOT, capture_output=True,
                             text=True, env={**environment, **DEPLOYED_API}, timeout=120, check=False)

    assert started.returncode != 0
    assert "ORIGIN_VERIFY_SECRET is not set" in started.stderr


@pytest.mark.parametrize("environ", [
    {**DEPLOYED_API, "ORIGIN_VERIFY_SECRET": SECRET},  # make deploy
    {"AWS_LAMBDA_FUNCTION_NAME": "eci-dev-count_statements", "_HANDLER": "app.count_statements"},
    {},  # make run, chalice local, the tests
], ids=["deployed-with-secret", "other-function", "local"])
def test_functions_start_where_the_secret_is_set_or_not_needed(environ: dict[str, str]) -> None:
    from chalicelib.web.views import check_origin_secret

    check_origin_secret(environ)


@pytest.mark.parametrize("secret", ["", "   "])
def test_deployed_api_function_with_an_empty_secret_refuses_to_start(secret: str) -> None:
    from chalicelib.config import ConfigError
    from chalicelib.web.views import check_origin_secret

    with pytest.raises(ConfigError, match="ORIGIN_VERIFY_SECRET"):
        check_origin_secret({**DEPLOYED_API, "ORIGIN_VERIFY_SECRET": secret})
