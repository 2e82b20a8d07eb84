"""Statement identifiers and the signing day they carry.

A statement id is ``{signing day, YYYY-MM-DD}-{random UUID}``, e.g. ``2026-12-06-1b4e28ba-2fa1-4d6b-...``.
The day is in the id because the statements table's stream is KEYS_ONLY: the count function sees keys
and nothing else, and counts per day must follow the day on the citizen's receipt, not the moment a
stream record happened to be made (a statement signed at 23:59:59 in Brussels may be written after
midnight). The random part keeps ids unguessable; the day says nothing about who signed.

The signing day is the day in Brussels, as the EU's citizens count it, never the server's UTC day.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime

_DAY_PREFIX = re.compile(r"(\d{4})-(\d{2})-(\d{2})-")


def signing_day(at: datetime) -> date:
    """The calendar day in Brussels at an instant (aware datetime; naive means UTC)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    try:
        from zoneinfo import ZoneInfo

        return at.astimezone(ZoneInfo("Europe/Brussels")).date()
    except (ImportError, KeyError):  # no time zone data on this system
        return at.astimezone(UTC).date()


def signing_day_at_epoch(seconds: float) -> date:
    return signing_day(datetime.fromtimestamp(seconds, UTC))


def new_statement_id(day: date) -> str:
    return f"{day.isoformat()}-{uuid.uuid4()}"


def day_of_statement_id(statement_id: str) -> date | None:
    """The signing day an id carries; None for an id without one (or with an impossible date)."""
    match = _DAY_PREFIX.match(statement_id)
    if match is None:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None
