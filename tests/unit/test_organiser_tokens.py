"""The console accepts a session only for a token the organisers' user pool signed for the console."""

from __future__ import annotations

import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib.console.tokens import InvalidSessionError, TokenVerifier

ISSUER = "https://cognito-idp.eu-central-1.amazonaws.com/eu-central-1_pool"
CLIENT = "console-client"
NOW = 1_800_000_000


def _key_pair(kid: str) -> tuple[Any, dict[str, Any]]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    return private, {**public_jwk, "kid": kid, "alg": "RS256", "use": "sig"}


POOL_KEY, POOL_JWK = _key_pair("pool-key")
OTHER_KEY, _ = _key_pair("pool-key")  # same key id, another key: a forgery


def _claims(**changes: Any) -> dict[str, Any]:
    claims = {"iss": ISSUER, "sub": "5f0c1e-subject", "client_id": CLIENT, "token_use": "access",
              "iat": NOW - 60, "exp": NOW + 3540, "cognito:groups": ["organiser"],
              "jti": "0e6c1b0a-token", "origin_jti": "7d2f4c1e-sign-in"}
    claims.update(changes)
    return {key: value for key, value in claims.items() if value is not None}


def _token(claims: dict[str, Any], key: Any = POOL_KEY, kid: str = "pool-key", algorithm: str = "RS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid})


def _verifier(clock: float = NOW) -> TokenVerifier:
    return TokenVerifier(ISSUER, CLIENT, lambda: {"keys": [POOL_JWK]}, clock=lambda: clock)


@pytest.fixture(autouse=True)
def pyjwt_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    # PyJWT checks exp and iat against the system clock: hold it at NOW like the verifier's clock.
    monkeypatch.setattr(jwt.api_jwt, "datetime", _FrozenDatetime)


class _FrozenDatetime:
    from datetime import UTC as _UTC
    from datetime import datetime as _datetime

    @classmethod
    def now(cls, tz: Any = None) -> Any:
        return cls._datetime.fromtimestamp(NOW, tz=cls._UTC)


def test_organiser_token_from_the_pool_signs_in_with_its_role() -> None:
    organiser = _verifier().verify(_token(_claims()))

    assert organiser.subject == "5f0c1e-subject"
    assert organiser.role == "organiser"
    assert organiser.may_act()


def test_viewer_token_signs_in_but_may_not_act() -> None:
    viewer = _verifier().verify(_token(_claims(**{"cognito:groups": ["viewer"]})))

    assert viewer.role == "viewer"
    assert not viewer.may_act()


@pytest.mark.parametrize(
    ("what", "token"),
    [
        ("signed by another key under the pool's key id", _token(_claims(), key=OTHER_KEY)),
        ("signed with a key id the pool does not publish", _token(_claims(), kid="elsewhere")),
        ("expired", _token(_claims(exp=NOW - 120, iat=NOW - 3720))),
        ("from another user pool", _token(_claims(iss=ISSUER + "-other"))),
        ("for another app client", _token(_claims(client_id="another-client"))),
        ("an ID token, not an access token", _token(_claims(token_use="id"))),
        ("without an expiry", _token(_claims(exp=None))),
        ("with no console role", _token(_claims(**{"cognito:groups": ["admins"]}))),
        ("with no groups at all", _token(_claims(**{"cognito:groups": None}))),
        ("unsigned (alg none)", jwt.encode(_claims(), None, algorithm="none", headers={"kid": "pool-key"})),
        ("malformed", "x.y.z"),
        ("not a token", "not-a-token"),
        ("empty", ""),
    ],
)
def test_token_is_refused_when(what: str, token: str) -> None:
    with pytest.raises(InvalidSessionError):
        _verifier().verify(token)


def test_token_past_its_expiry_by_the_verifiers_clock_is_refused() -> None:
    token = _token(_claims())

    with pytest.raises(InvalidSessionError, match="expired"):
        _verifier(clock=NOW + 3600 + 60).verify(token)


def test_keys_are_fetched_once_not_per_request() -> None:
    fetched: list[int] = []

    def keys() -> dict[str, Any]:
        fetched.append(1)
        return {"keys": [POOL_JWK]}

    verifier = TokenVerifier(ISSUER, CLIENT, keys, clock=lambda: NOW)
    for _ in range(5):
        verifier.verify(_token(_claims()))

    assert len(fetched) == 1


def test_unreachable_keys_refuse_the_session_rather_than_fail() -> None:
    def keys() -> dict[str, Any]:
        raise OSError("no route")

    verifier = TokenVerifier(ISSUER, CLIENT, keys, clock=lambda: NOW)

    with pytest.raises(InvalidSessionError, match="unavailable"):
        verifier.verify(_token(_claims()))


def test_console_without_a_user_pool_accepts_no_one() -> None:
    with pytest.raises(InvalidSessionError):
        TokenVerifier("", "", lambda: {"keys": []})


def test_refusal_names_the_failed_check_never_the_token() -> None:
    token = _token(_claims(client_id="another-client"))
    with pytest.raises(InvalidSessionError) as refused:
        _verifier().verify(token)

    assert "another app client" in str(refused.value)
    assert token not in str(refused.value)


def test_a_signed_out_session_is_refused_though_its_token_is_still_signed_and_unexpired() -> None:
    asked: list[str] = []

    def signed_out(session_id: str) -> bool:
        asked.append(session_id)
        return True

    verifier = TokenVerifier(ISSUER, CLIENT, lambda: {"keys": [POOL_JWK]}, clock=lambda: NOW, signed_out=signed_out)

    with pytest.raises(InvalidSessionError, match="signed out"):
        verifier.verify(_token(_claims()))
    assert asked == ["7d2f4c1e-sign-in"], "the sign-in's id (origin_jti), shared by every token it gave"


def test_the_session_id_is_the_sign_ins_and_else_the_tokens() -> None:
    assert _verifier().verify(_token(_claims())).session_id == "7d2f4c1e-sign-in"
    assert _verifier().verify(_token(_claims(origin_jti=None))).session_id == "0e6c1b0a-token"


def test_a_token_naming_no_session_cannot_be_signed_out_so_it_is_refused() -> None:
    with pytest.raises(InvalidSessionError, match="names no session"):
        _verifier().verify(_token(_claims(jti=None, origin_jti=None)))


def test_when_the_sign_out_record_cannot_be_read_the_session_is_refused_and_says_why() -> None:
    from chalicelib.console.tokens import SessionCheckUnavailableError

    def unreadable(session_id: str) -> bool:
        raise OSError("the table did not answer")

    verifier = TokenVerifier(ISSUER, CLIENT, lambda: {"keys": [POOL_JWK]}, clock=lambda: NOW, signed_out=unreadable)

    with pytest.raises(SessionCheckUnavailableError, match="unavailable: OSError"):
        verifier.verify(_token(_claims()))


def test_a_forged_token_is_refused_before_anyone_asks_whether_it_was_signed_out() -> None:
    asked: list[str] = []
    verifier = TokenVerifier(ISSUER, CLIENT, lambda: {"keys": [POOL_JWK]}, clock=lambda: NOW,
                             signed_out=lambda session_id: asked.append(session_id) or False)

    with pytest.raises(InvalidSessionError):
        verifier.verify(_token(_claims(), key=OTHER_KEY))
    assert asked == []  # no table read for whatever a stranger sends
