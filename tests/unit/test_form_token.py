"""The token every form carries: fresh tokens this deployment issued for that State's form pass; nothing else."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.web.form_token import (
    NONCE_KEPT_BEYOND_SECONDS,
    accepted_nonce,
    derive_token_key,
    issue_token,
    token_is_valid,
)

KEY = derive_token_key(b"deployment secret")
OTHER_KEY = derive_token_key(b"another deployment")
ISSUED = 1_790_000_000.0
HOURS_4 = 4 * 3600


def _valid(token: str, *, member_state: str = "PL", now: float = ISSUED + 60, key: bytes = KEY) -> bool:
    return token_is_valid(key, token, member_state, now, HOURS_4)


@pytest.fixture
def token() -> str:
    return issue_token(KEY, "PL", ISSUED)


def test_citizen_submitting_the_form_a_minute_after_opening_it_passes(token: str) -> None:
    assert _valid(token)


@pytest.mark.parametrize("delay", [0, 1, HOURS_4 - 1, HOURS_4])
def test_citizen_submitting_within_the_token_lifetime_passes(token: str, delay: int) -> None:
    assert _valid(token, now=ISSUED + delay)


def test_citizen_submitting_a_page_left_open_too_long_is_refused(token: str) -> None:
    assert not _valid(token, now=ISSUED + HOURS_4 + 1)


def test_token_from_a_lambda_with_a_clock_up_to_a_minute_ahead_passes(token: str) -> None:
    assert _valid(token, now=ISSUED - 60)
    assert not _valid(token, now=ISSUED - 61)


def test_a_used_form_is_remembered_until_after_its_token_expires(token: str) -> None:
    # The nonce's record keeps a replay out; DynamoDB may delete it (TTL) from expires_at. Were that
    # before the token's own end, the same form could store a second statement in between.
    last_accepted = ISSUED + HOURS_4
    assert _valid(token, now=last_accepted)

    nonce = accepted_nonce(KEY, token, "PL", ISSUED + 60, HOURS_4)

    assert nonce is not None and nonce.value == token.split(".")[1]
    assert nonce.expires_at == last_accepted + NONCE_KEPT_BEYOND_SECONDS > last_accepted


def test_token_issued_for_another_states_form_is_refused(token: str) -> None:
    assert not _valid(token, member_state="DE")


def test_token_issued_by_another_deployment_is_refused(token: str) -> None:
    assert not _valid(token, key=OTHER_KEY)


def test_every_issued_token_is_different() -> None:
    assert len({issue_token(KEY, "PL", ISSUED) for _ in range(50)}) == 50


def _tamper(token: str, part: int, replacement: str) -> str:
    parts = token.split(".")
    parts[part] = replacement
    return ".".join(parts)


@pytest.mark.parametrize(("part", "replacement"), [
    (0, str(int(ISSUED) + 3600)), (0, "0"), (1, "AAAAAAAAAAAA"), (2, "A" * 24), (2, ""),
], ids=["later-issue-time", "epoch", "other-nonce", "other-mac", "no-mac"])
def test_tampered_token_is_refused(token: str, part: int, replacement: str) -> None:
    assert not _valid(_tamper(token, part, replacement))


@pytest.mark.parametrize("garbage", [
    "", ".", "..", "...", "a.b.c", "1.2", "1.2.3.4", "-1.a.b", "1e9.a.b", " 1790000000.a.b", "x" * 1000,
    "1790000000." + "a" * 200 + ".b", "None", "1790000000.\u00e9.mac",
], ids=["empty", "dot", "two-dots", "three-dots", "letters", "two-parts", "four-parts", "negative", "exponent",
        "leading-space", "long", "long-nonce", "none", "non-ascii-nonce"])
def test_garbage_token_is_refused(garbage: str) -> None:
    assert not _valid(garbage)


ASCII = st.characters(max_codepoint=127)
ANY = st.characters()
ASCII_DIGITS = st.sampled_from("0123456789")
ANY_DIGITS = st.characters(categories=["Nd", "No"])  # str.isdigit() is true for all of these


def _token_shaped(alphabet: st.SearchStrategy[str], digit: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Arbitrary strings, and strings shaped like tokens (issue time . nonce . mac), from `alphabet`."""
    piece = st.text(alphabet=alphabet, max_size=30)
    issued = st.text(alphabet=digit, min_size=1, max_size=12) | piece
    shaped = st.builds(lambda a, b, c: f"{a}.{b}.{c}", issued, piece, piece)
    return st.text(alphabet=alphabet, max_size=120) | shaped


@given(_token_shaped(ASCII, ASCII_DIGITS))
@settings(max_examples=300, deadline=None, derandomize=True)
def test_checking_any_ascii_token_never_raises(candidate: str) -> None:
    assert token_is_valid(KEY, candidate, "PL", ISSUED, HOURS_4) in (True, False)


# A crafted POST must get a form error, not a 500:
#   "1.a.é"  once raised TypeError in hmac.compare_digest (non-ASCII str)
#   "².a.b"  once raised ValueError from int(): str.isdigit() is True for superscripts
@pytest.mark.parametrize("candidate", ["1790000000.abc.\u00e9", "\u00b2.a.b"], ids=["non-ascii-mac", "superscript"])
def test_checking_a_non_ascii_token_does_not_raise(candidate: str) -> None:
    assert not token_is_valid(KEY, candidate, "PL", ISSUED, HOURS_4)


@given(_token_shaped(ANY, ANY_DIGITS))
@settings(max_examples=300, deadline=None, derandomize=True, report_multiple_bugs=False)
def test_checking_any_token_never_raises(candidate: str) -> None:
    assert token_is_valid(KEY, candidate, "PL", ISSUED, HOURS_4) in (True, False)
