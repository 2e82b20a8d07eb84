"""The organiser's session token, checked by the app itself: the local server enforces what AWS would.

A session is a Cognito access token. It is accepted only if its RS256 signature verifies against one of
the user pool's published keys (JWKS), it was issued by that pool (iss) for the console's app client
(client_id), it is an access token (token_use), it has not expired, and it was not signed out: a signed
token stays valid to any JWT library until it expires, so signing out records the session's id
(``origin_jti``, the sign-in all its tokens share; else ``jti``) and every check asks that record.
Roles are the pool's groups.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

ORGANISER = "organiser"
VIEWER = "viewer"
ROLES = (ORGANISER, VIEWER)
_KEY_REFRESH_SECONDS = 60  # an unknown key id fetches the keys again, at most this often (key rotation)
_CLOCK_SKEW_SECONDS = 30
CLOCK_SKEW_SECONDS = _CLOCK_SKEW_SECONDS  # how long after exp a token is still accepted: a sign-out lasts as long
_MAX_SESSION_ID = 128  # Cognito's are UUIDs; anything far longer is no session id


class InvalidSessionError(Exception):
    """The token is missing, forged, expired, signed out or not for this console; the message names which
    check failed."""


class SessionCheckUnavailableError(InvalidSessionError):
    """Whether the session was signed out could not be read: refused (fail closed), and worth saying so."""


@dataclass(frozen=True)
class Organiser:
    """Who is signed in: the account's subject (a random id, not a name or address) and its roles."""

    subject: str
    roles: frozenset[str]
    expires_at: int
    session_id: str = ""  # what signing out records (origin_jti, else jti): names the sign-in, not the person

    @property
    def role(self) -> str:
        """The strongest role the account has: organiser, else viewer."""
        return ORGANISER if ORGANISER in self.roles else VIEWER

    def may_act(self) -> bool:
        return ORGANISER in self.roles


def fetch_keys(url: str, timeout: float = 5.0) -> Mapping[str, Any]:
    """The pool's JWKS document, read over HTTPS (or from moto, locally)."""
    from urllib.request import urlopen

    if not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise InvalidSessionError(f"refusing to fetch signing keys from {url!r}")
    with urlopen(url, timeout=timeout) as response:  # noqa: S310 - the scheme is checked above
        document: Mapping[str, Any] = json.loads(response.read())
    return document


class TokenVerifier:
    def __init__(self, issuer: str, client_id: str, keys: Callable[[], Mapping[str, Any]],
                 clock: Callable[[], float] = time.time,
                 signed_out: Callable[[str], bool] = lambda session_id: False) -> None:
        if not issuer or not client_id:
            raise InvalidSessionError("the console has no user pool configured")
        self._issuer = issuer
        self._client_id = client_id
        self._fetch = keys
        self._clock = clock
        self._signed_out = signed_out  # asked last, for a token that passed every other check
        self._lock = threading.Lock()
        self._keys: dict[str, Any] = {}
        self._fetched_at = float("-inf")

    def _key(self, key_id: str) -> Any:
        import jwt

        with self._lock:
            if key_id not in self._keys and self._clock() - self._fetched_at >= _KEY_REFRESH_SECONDS:
                self._fetched_at = self._clock()
                try:
                    document = self._fetch()
                except (OSError, ValueError) as error:
                    raise InvalidSessionError(f"signing keys unavailable: {type(error).__name__}") from None
                self._keys = {
                    str(key["kid"]): jwt.PyJWK(dict(key)).key
                    for key in document.get("keys", [])
                    if key.get("kty") == "RSA" and key.get("alg", "RS256") == "RS256"
                }
            if key_id not in self._keys:
                raise InvalidSessionError("token signed with an unknown key")
            return self._keys[key_id]

    def verify(self, token: str) -> Organiser:
        import jwt

        if not token:
            raise InvalidSessionError("no token")
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(
                token, self._key(str(header.get("kid", ""))), algorithms=["RS256"], issuer=self._issuer,
                leeway=_CLOCK_SKEW_SECONDS,
                options={"require": ["exp", "iat", "iss", "sub", "token_use", "client_id"], "verify_aud": False},
            )
        except jwt.PyJWTError as error:
            raise InvalidSessionError(f"token refused: {type(error).__name__}") from None
        # PyJWT checks exp against the system clock; the verifier's own clock decides as well.
        if int(claims["exp"]) + _CLOCK_SKEW_SECONDS <= self._clock():
            raise InvalidSessionError("token expired")
        if claims["token_use"] != "access":  # noqa: S105 - a claim's value, not a password
            raise InvalidSessionError("not an access token")
        if claims["client_id"] != self._client_id:
            raise InvalidSessionError("token issued to another app client")
        groups = claims.get("cognito:groups", [])
        roles = frozenset(group for group in groups if group in ROLES) if isinstance(groups, list) else frozenset()
        if not roles:
            raise InvalidSessionError("the account has no console role")
        session_id = claims.get("origin_jti") or claims.get("jti")
        if not isinstance(session_id, str) or not 0 < len(session_id) <= _MAX_SESSION_ID:
            raise InvalidSessionError("the token names no session that could be signed out")
        try:
            signed_out = self._signed_out(session_id)
        except Exception as error:  # the record could not be read: never accept what might be signed out
            raise SessionCheckUnavailableError(f"sign-out record unavailable: {type(error).__name__}") from None
        if signed_out:
            raise InvalidSessionError("signed out")
        return Organiser(subject=str(claims["sub"]), roles=roles, expires_at=int(claims["exp"]),
                         session_id=session_id)
