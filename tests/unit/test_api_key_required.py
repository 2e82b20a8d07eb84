"""Deployed, API Gateway lets in only requests that carry the API key CloudFront sends; locally none is needed.

A route without `api_key_required=True` would be open at the execute-api address: WAF and the CAPTCHA
skipped, and only the function's own origin check (after Lambda was paid) in the way. Chalice has no
app-wide switch, so these tests walk every route app.py has, including any added later.
"""

from __future__ import annotations

from datetime import date

import pytest

import app as app_module
from chalicelib import services
from tests.fakes import web_only_services

ROUTES = [(path, method, entry) for path, methods in app_module.app.routes.items() for method, entry in methods.items()]


def test_the_app_has_routes_to_check() -> None:
    assert len(ROUTES) >= 10 and ("/sign/{code}", "POST") in {(path, method) for path, method, _ in ROUTES}


@pytest.mark.parametrize(("path", "method", "entry"), ROUTES, ids=[f"{method} {path}" for path, method, _ in ROUTES])
def test_every_route_requires_the_api_key_cloudfront_sends(path: str, method: str, entry: object) -> None:
    assert getattr(entry, "api_key_required", None) is True, (
        f"{method} {path} ({getattr(entry, 'view_name', '?')}) in app.py lacks api_key_required=True: "
        "anyone could call it at the execute-api address, past WAF")


def test_make_run_serves_pages_without_an_api_key() -> None:
    """`make run` serves the app with chalice's local gateway, which does not check API keys."""
    from chalice.config import Config
    from chalice.local import LocalGateway

    services.use(web_only_services(date(2026, 11, 27), {"PL": 3}))
    try:
        gateway = LocalGateway(app_module.app, Config.create(chalice_app=app_module.app))
        response = gateway.handle_request("GET", "/sign/PL", {"accept-language": "pl"}, b"")
    finally:
        services.use(None)

    assert response["statusCode"] == 200
