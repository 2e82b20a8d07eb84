"""A browser or CloudFront that already holds the page gets 304 Not Modified and no body."""

from __future__ import annotations

import pytest
from chalice.app import Response

from chalicelib.web.conditional import entity_tag, with_entity_tag
from chalicelib.web.headers import CONTENT_SECURITY_POLICY, security_headers

# What a browser must get with every page, written out: a loop over security_headers() itself could not
# see a header go missing from it.
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
}
BODY = "<p>176,812 signatories</p>"
TAG = entity_tag(BODY)


def _page() -> Response:
    return Response(body=BODY, headers={**security_headers(), "Content-Type": "text/html; charset=utf-8",
                                        "Cache-Control": "public, max-age=0, s-maxage=10", "Vary": "Accept-Language"})


def test_the_tag_is_strong_and_follows_the_body() -> None:
    assert TAG.startswith('"') and TAG.endswith('"') and not TAG.startswith("W/")
    assert entity_tag(BODY) == TAG
    assert entity_tag(BODY.replace("812", "813")) != TAG


@pytest.mark.parametrize(
    "if_none_match",
    [TAG, f"W/{TAG}", f'"older", {TAG}', f'"older",{TAG} ', "*"],
)
def test_a_client_holding_the_page_gets_304_with_the_caching_and_security_headers(if_none_match: str) -> None:
    response = with_entity_tag(_page(), if_none_match)

    assert response.status_code == 304
    assert response.body == ""
    assert response.headers["ETag"] == TAG
    assert response.headers["Cache-Control"] == "public, max-age=0, s-maxage=10"
    assert response.headers["Vary"] == "Accept-Language"
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"  # not API Gateway's default JSON
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value, name


@pytest.mark.parametrize("if_none_match", [None, "", '"older"', TAG[:-2] + '"', TAG.strip('"')])
def test_a_client_without_the_current_page_gets_the_page_and_its_tag(if_none_match: str | None) -> None:
    response = with_entity_tag(_page(), if_none_match)

    assert response.status_code == 200
    assert response.body == BODY
    assert response.headers["ETag"] == TAG
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"


def test_an_error_page_gets_no_tag() -> None:
    error = Response(body="Not found", status_code=404, headers={})

    assert with_entity_tag(error, "*") is error
