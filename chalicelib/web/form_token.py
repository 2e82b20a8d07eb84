"""The signed, expiring token every form carries.

A POST must present a token this deployment issued for that Member State's form within the last
hours: an automated submitter has to fetch the form first, and an old page cannot be replayed
forever. There is no session or login to protect, so no cookie is bound to it: a cross-site POST
would gain an attacker nothing they could not do by submitting directly.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets


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
    if not token.isascii() or len(token) > 100:  # isdigit() and compare_digest misbehave on other text
        return False
    parts = token.split(".")
    if len(parts) != 3 or not parts[0].isdigit():
        return False
    issued_at, nonce, mac = int(parts[0]), parts[1], parts[2]
    if not hmac.compare_digest(mac, _mac(key, issued_at, member_state, nonce)):
        return False
    return issued_at - 60 <= now <= issued_at + max_age_seconds  # a minute of clock skew between Lambdas
