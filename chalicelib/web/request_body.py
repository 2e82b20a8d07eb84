"""Reading a submitted form body strictly: anything a browser would not send is refused, whole.

Refusals carry a reason code; the page says what went wrong, in the citizen's language.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl

MAX_BODY_BYTES = 16 * 1024
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


# Control, format (zero-width, bidi, soft hyphen), surrogate and unassigned code points, non-characters
# among them: no field of ours holds one, none is visible, and XML cannot carry some of them.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Cn"})
# Invisible too, although Unicode files them as marks or letters (its Default_Ignorable_Code_Point list):
# the combining grapheme joiner, Hangul and Khmer fillers, Mongolian and other variation selectors. A name
# with one looks like the name without it, so it would be a second signature of the same person.
_INVISIBLE_MARKS_AND_FILLERS = re.compile(
    "[\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180d\u180f\u3164\ufe00-\ufe0f\uffa0\U000e0100-\U000e01ef]"
)


def has_invisible_characters(value: str) -> bool:
    # isprintable() is C code and true for almost every value: only the rest is looked at closely.
    if not value.isprintable() and any(unicodedata.category(char) in _INVISIBLE_CATEGORIES for char in value):
        return True
    return _INVISIBLE_MARKS_AND_FILLERS.search(value) is not None


class BadRequestError(Exception):
    """A request no form of ours produces. `reason` selects the message shown; `status` the HTTP code."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def parse_form_body(
    headers: Mapping[str, str], raw_body: bytes | str | None, allowed_names: Iterable[str]
) -> dict[str, str]:
    """The form's fields, each present at most once and all among `allowed_names`."""
    if _media_type(headers.get("content-type", "")) != FORM_CONTENT_TYPE:
        raise BadRequestError("content_type", 415)
    body = raw_body if isinstance(raw_body, bytes) else (raw_body or "").encode("utf-8")
    if len(body) > MAX_BODY_BYTES:
        raise BadRequestError("too_large", 413)
    try:
        text = body.decode("ascii")  # a urlencoded body is ASCII; non-ASCII bytes mean a broken client
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text),
                          encoding="utf-8", errors="strict", max_num_fields=64)
    except UnicodeDecodeError:
        raise BadRequestError("encoding") from None
    except ValueError:
        raise BadRequestError("malformed") from None
    allowed = frozenset(allowed_names)
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name not in allowed:
            raise BadRequestError("unknown_field")
        if name in fields:
            raise BadRequestError("repeated_field")
        if has_invisible_characters(value):
            raise BadRequestError("encoding")
        fields[name] = value
    return fields
