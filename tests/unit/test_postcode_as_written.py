"""Postal codes written as each national post writes them (exports), read back as the same code (signing)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.rules.member_states import all_member_states
from chalicelib.signing.id_numbers import canonical_postcode, postcode_as_written

WRITTEN = [state for state in all_member_states() if state.postcode_written]


def test_twelve_states_posts_write_their_codes_otherwise_than_as_stored() -> None:
    assert sorted(state.code for state in WRITTEN) == sorted(
        ["CZ", "EL", "IE", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "SE", "SK"])


@pytest.mark.parametrize("state", WRITTEN, ids=lambda state: state.code)
@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_a_code_written_as_the_post_writes_it_is_signed_as_the_same_code(state, data) -> None:  # type: ignore[no-untyped-def]
    # What an authority reads in an export, typed again by the citizen, is the same person's code: the
    # written form must never change the identity that the duplicate check compares.
    assert state.postcode_format is not None
    code = data.draw(st.from_regex(state.postcode_format, fullmatch=True).map(str.upper))
    written = postcode_as_written(state.iso_code, code)
    assert written != code, "each code of the country's format is written the post's way"
    assert canonical_postcode(state.iso_code, written) == code


@pytest.mark.parametrize(("residence", "confirmed"), [("PL", "AB123"), ("PT", "1000X01"), ("NL", "12345A")])
def test_an_unusual_code_the_citizen_confirmed_is_exported_as_confirmed(residence: str, confirmed: str) -> None:
    # Of the post's length but not of its format: no dash or space is put into what the citizen confirmed.
    assert postcode_as_written(residence, confirmed) == confirmed
