"""Checks of personal identification numbers and postal codes, as the Commission's software made them.

Three outcomes: the value is fine; its format is unusual (the citizen may confirm it is correct);
or it cannot be right (a failed check digit, a date inside the number that does not exist).
Check digits are python-stdnum's; formats are the rules data's.
"""

from __future__ import annotations

import importlib
import re
from enum import Enum
from types import ModuleType

from chalicelib.rules.member_states import IdDocument, member_state

# Separators people type inside numbers and postal codes; the authorities compare without them.
_SEPARATORS = re.compile(r"[\s.\-/]+")


class Check(Enum):
    OK = "ok"
    FORMAT_MISMATCH = "format_mismatch"  # confirmable by the citizen
    INVALID = "invalid"  # never acceptable


def compact(value: str) -> str:
    """The number as authorities compare it: upper case, without spaces, dots, hyphens, slashes."""
    return _SEPARATORS.sub("", value).upper()


def _stdnum(module_name: str) -> ModuleType:
    # Imported on first use: stdnum modules are cheap one by one, dear all together.
    return importlib.import_module(f"stdnum.{module_name}")


def check_id_number(document: IdDocument, number: str) -> Check:
    """Check a compacted number against its document's check digits and format."""
    if document.checksum:
        from stdnum.exceptions import InvalidChecksum, InvalidComponent, ValidationError

        try:
            _stdnum(document.checksum).validate(number)
        except (InvalidChecksum, InvalidComponent):
            return Check.INVALID
        except ValidationError:
            return Check.FORMAT_MISMATCH  # wrong length or characters: the format rule decides below
    if document.format.fullmatch(number) is None:
        return Check.FORMAT_MISMATCH
    return Check.OK


def check_postcode(residence_iso_code: str, postcode: str) -> Check:
    """Check a compacted postal code against the format of the residence country, where one is known."""
    state = member_state(residence_iso_code)
    if state is None or state.postcode_format is None:
        return Check.OK  # outside the EU, or no national format: only length limits apply
    if state.postcode_format.fullmatch(postcode) is None:
        return Check.FORMAT_MISMATCH
    return Check.OK
