"""Reading a submitted form body: what a browser sends is read; anything else is refused whole."""

from __future__ import annotations

import pytest

from chalicelib.web.request_body import MAX_BODY_BYTES, BadRequestError, parse_form_body

FORM = {"content-type": "application/x-www-form-urlencoded"}
ALLOWED = frozenset({"family_names", "full_first_names", "privacy_accepted", "form_token"})


def _refusal(headers: dict[str, str], body: bytes | str | None, allowed: frozenset[str] = ALLOWED) -> BadRequestError:
    with pytest.raises(BadRequestError) as raised:
        parse_form_body(headers, body, allowed)
    return raised.value


def test_browser_form_post_is_read_with_utf8_names_decoded() -> None:
    body = b"family_names=%C5%81ukasz+Nowak&full_first_names=Jan%20Piotr&privacy_accepted=yes"

    assert parse_form_body(FORM, body, ALLOWED) == {
        "family_names": "Łukasz Nowak", "full_first_names": "Jan Piotr", "privacy_accepted": "yes"}


@pytest.mark.parametrize("content_type", [
    "application/x-www-form-urlencoded; charset=UTF-8",
    "application/x-www-form-urlencoded;charset=utf-8",
    "Application/X-WWW-Form-Urlencoded",
])
def test_content_type_with_a_charset_parameter_or_other_case_is_accepted(content_type: str) -> None:
    assert parse_form_body({"content-type": content_type}, b"family_names=A", ALLOWED) == {"family_names": "A"}


def test_body_arriving_as_text_is_read_like_bytes() -> None:
    assert parse_form_body(FORM, "family_names=A&privacy_accepted=", ALLOWED) == {
        "family_names": "A", "privacy_accepted": ""}


@pytest.mark.parametrize("body", [None, b"", ""], ids=["none", "empty-bytes", "empty-text"])
def test_empty_body_gives_no_fields(body: bytes | str | None) -> None:
    assert parse_form_body(FORM, body, ALLOWED) == {}


def test_body_of_exactly_16_kb_is_read() -> None:
    prefix = b"family_names="
    body = prefix + b"a" * (MAX_BODY_BYTES - len(prefix))

    assert len(parse_form_body(FORM, body, ALLOWED)["family_names"]) == MAX_BODY_BYTES - len(prefix)


@pytest.mark.parametrize("body", [b"family_names=" + b"a" * MAX_BODY_BYTES, "family_names=" + "a" * MAX_BODY_BYTES],
                         ids=["bytes", "text"])
def test_body_over_16_kb_is_refused_with_413(body: bytes | str) -> None:
    refusal = _refusal(FORM, body)

    assert (refusal.reason, refusal.status) == ("too_large", 413)


@pytest.mark.parametrize("headers", [
    {}, {"content-type": "multipart/form-data; boundary=x"}, {"content-type": "application/json"},
    {"content-type": "text/plain"}, {"content-type": "application/x-www-form-urlencodedx"},
])
def test_body_of_another_content_type_is_refused_with_415(headers: dict[str, str]) -> None:
    refusal = _refusal(headers, b"family_names=A")

    assert (refusal.reason, refusal.status) == ("content_type", 415)


@pytest.mark.parametrize("body", [
    b"family_names=%ff", b"a=%ff", b"family_names=%C5", b"family_names=%C0%AF", b"family_names=%ED%A0%80",
    "family_names=Łukasz".encode(), b"family_names=\xff", "family_names=Łukasz", b"family_names=a%00b",
], ids=["ff", "ff-unknown-name", "truncated-sequence", "overlong-encoding", "surrogate", "raw-utf8-bytes",
        "raw-byte", "raw-non-ascii-text", "nul"])
def test_body_with_broken_encoding_is_refused_as_encoding(body: bytes | str) -> None:
    refusal = _refusal(FORM, body)

    assert (refusal.reason, refusal.status) == ("encoding", 400)


def test_body_with_a_field_no_form_has_is_refused_as_unknown_field() -> None:
    refusal = _refusal(FORM, b"family_names=A&is_admin=1")

    assert (refusal.reason, refusal.status) == ("unknown_field", 400)


def test_body_repeating_a_field_is_refused_as_repeated_field() -> None:
    refusal = _refusal(FORM, b"family_names=A&family_names=B")

    assert (refusal.reason, refusal.status) == ("repeated_field", 400)


@pytest.mark.parametrize("body", [b"family_names", b"family_names=A&&privacy_accepted=yes"],
                         ids=["no-equals", "empty-pair"])
def test_body_that_is_not_urlencoded_pairs_is_refused_as_malformed(body: bytes) -> None:
    assert _refusal(FORM, body).reason == "malformed"


def test_body_with_more_fields_than_any_form_has_is_refused() -> None:
    allowed = frozenset(f"f{i}" for i in range(100))
    body = "&".join(f"f{i}=x" for i in range(100)).encode()

    assert _refusal(FORM, body, allowed).reason == "malformed"
