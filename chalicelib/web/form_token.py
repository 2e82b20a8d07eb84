"""The signed, expiring token every form carries.

A POST must present a token this deployment issued for that Member State's form within the last
hours: an automated submitter has to fetch the form first, and an old page cannot be replayed
forever. Its random nonce is recorded with the statement (chalicelib/storage/statements.py), so one
token stores at most one statement. There is no session or login to protect, so no cookie is bound
to it: a cross-site POST would gain an attacker nothing they could not do by submitting directly.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from chalicelib.signing.ports import FormNonce

CLOCK_SKEW_SECONDS = 60  # between the Lambda that issued a token and the one that checks it
# How long a used nonce is kept beyond the token's own end: DynamoDB's clock and ours may differ a little.
NONCE_KEPT_BEYOND_SECONDS = 3600


def _mac(key: bytes, issued_at: int, member_state: str, nonce: str) -> str:
    message = f"{issued_at}|{member_state}|{nonce}".encode("ascii")
    digest = hmac.new(key, message, hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(digest).decode("ascii")


def derive_token_key(secret: bytes) -> bytes:
    """A key for tokens only, derived from the deployment's secret so one secret serves both uses."""
    return hmac.new(secret, b"eci form token v1", hashlib.sha256).digest()


def issue_token(key: bytes, member_state: str, now: float) -> str:
    issued_at = int(now)
    nonce = secrets.token_urlsafe(9)
    return f"{issued_at}.{nonce}.{_mac(key, issued_at, member_state, nonce)}"


def token_is_valid(key: bytes, token: str, member_state: str, now: float, max_age_seconds: int) -> bool:
    return accepted_nonce(key, token, member_state, now, max_age_seconds) is not None


def accepted_nonce(key: bytes, token: str, member_state: str, now: float, max_age_seconds: int) -> FormNonce | None:
    """The nonce of a token this deployment issued for the State's form and that is still fresh, else None."""
    if not token.isascii() or len(token) > 100:  # isdigit() and compare_digest misbehave on other text
        return None
    parts = token.split(".")
    if len(parts) != 3 or not parts[0].isdigit() or len(parts[0]) > 12:
        return None
    issued_at, nonce, mac = int(parts[0]), parts[1], parts[2]
    if not hmac.compare_digest(mac, _mac(key, issued_at, member_state, nonce)):
        return None
    if not issued_at - CLOCK_SKEW_SECONDS <= now <= issued_at + max_age_seconds:
        return None
    return FormNonce(nonce, issued_at + max_age_seconds + NONCE_KEPT_BEYOND_SECONDS)
