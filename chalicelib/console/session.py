"""The console's cookies and CSRF tokens.

The session cookie holds the Cognito access token; it is Secure, HttpOnly and SameSite=Strict, and its
__Host- prefix pins it to this host and path /. Browsers treat http://localhost as secure, so `make run`
gets the same cookie.

CSRF: every console form carries a token derived from the session cookie (a SHA-256 of it, under a
purpose label). Another site can neither read the cookie nor the page, so it cannot produce the token;
SameSite=Strict keeps the cookie off its requests in the first place. The sign-in form, before there is a
session, pairs a random value in a short-lived cookie with the same value in the form (double submit).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from http.cookies import CookieError, SimpleCookie

SESSION_COOKIE = "__Host-eci-organiser"
SIGN_IN_COOKIE = "__Host-eci-organiser-sign-in"
CSRF_FIELD = "csrf"
_CSRF_PURPOSE = b"eci-organiser-csrf\x00"
SIGN_IN_COOKIE_SECONDS = 900


def cookies(headers: Mapping[str, str]) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(headers.get("cookie", ""))
    except CookieError:
        return {}
    return {name: morsel.value for name, morsel in jar.items()}


def set_cookie(name: str, value: str, max_age: int) -> str:
    return f"{name}={value}; Max-Age={max_age}; Path=/; Secure; HttpOnly; SameSite=Strict"


def clear_cookie(name: str) -> str:
    return f"{name}=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Strict"


def csrf_token(session_value: str) -> str:
    digest = hashlib.sha256(_CSRF_PURPOSE + session_value.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def csrf_matches(session_value: str, submitted: str) -> bool:
    return bool(session_value) and hmac.compare_digest(csrf_token(session_value).encode(), submitted.encode())


def new_sign_in_nonce() -> str:
    return secrets.token_urlsafe(24)


def sign_in_nonce_matches(cookie_value: str, submitted: str) -> bool:
    return len(cookie_value) >= 16 and hmac.compare_digest(cookie_value.encode(), submitted.encode())
