"""Conditional GET: a strong ETag computed from the body, and 304 Not Modified when it matches.

CloudFront revalidates its copy with If-None-Match when the copy expires, and so does a browser
on reload (max-age=0): if the counts have not moved, the answer is a few headers, not the page.
"""

from __future__ import annotations

import hashlib

from chalice.app import Response


def entity_tag(body: str) -> str:
    """A strong validator: the same tag means the same bytes."""
    return '"' + hashlib.sha256(body.encode("utf-8")).hexdigest()[:32] + '"'


def _matches(if_none_match: str, tag: str) -> bool:
    """If-None-Match uses the weak comparison (RFC 9110, 13.1.2): W/ is ignored on both sides."""
    if if_none_match.strip() == "*":
        return True
    opaque = tag.removeprefix("W/")
    return any(candidate.strip().removeprefix("W/") == opaque for candidate in if_none_match.split(","))


def with_entity_tag(response: Response, if_none_match: str | None) -> Response:
    """The response with its ETag; or, when the client's If-None-Match names it, 304 with no body."""
    if response.status_code != 200 or not isinstance(response.body, str):
        return response
    tag = entity_tag(response.body)
    headers = {**response.headers, "ETag": tag}
    if if_none_match and _matches(if_none_match, tag):
        # The 200's headers, Content-Type included: without it, API Gateway (and Chalice's local
        # server) would add application/json, and a cache may update its stored copy from a 304.
        return Response(body="", status_code=304, headers=headers)
    return Response(body=response.body, status_code=response.status_code, headers=headers)
