"""What the console keeps: the audit log's entries and the collection's state, as plain values."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from chalicelib.initiative import TEST_PHASE_SUFFIX

# What the audit log records. Names of actions, never of people: the actor is an account's subject.
SIGN_IN = "sign_in"
SIGN_OUT = "sign_out"
PAUSE = "pause"
RESUME = "resume"
DELETE_STATEMENT = "delete_statement"
START_TEST_PHASE = "start_test_phase"
GO_LIVE_STARTED = "go_live_started"
GO_LIVE = "go_live"
EXPORT_STARTED = "export_started"  # written by the export when it plans a new run, whoever asked for it
ACTIONS = (SIGN_IN, SIGN_OUT, PAUSE, RESUME, DELETE_STATEMENT, START_TEST_PHASE, GO_LIVE_STARTED, GO_LIVE,
           EXPORT_STARTED)

# The collection's phase. None chosen: statements are live, as before the console existed. In the test phase
# statements go under a derived initiative id, so counts, exports and the purge keep them apart by key;
# going live deletes them all (resumably, refusing statements meanwhile); once live, never test again.
PHASE_UNSET = ""
PHASE_TEST = "test"
PHASE_GOING_LIVE = "going_live"
PHASE_LIVE = "live"


def initiative_id_in_test_phase(initiative_id: str) -> str:
    return initiative_id + TEST_PHASE_SUFFIX


@dataclass(frozen=True)
class AuditEntry:
    at: str  # ISO 8601, UTC, to the microsecond: the log's order
    actor: str  # the Cognito subject of the account (a random id)
    role: str
    action: str
    details: Mapping[str, str] = field(default_factory=dict)  # codes and identifiers only


# Who starts an export run, by the way it was asked for: the daily schedule, an operator's `run` (the IAM
# identity the operator tool runs as), an organiser in the console (the account's subject), or a direct
# invocation of the export function that named nobody.
VIA_SCHEDULE = "schedule"
VIA_OPERATOR = "operator"
VIA_CONSOLE = "console"
VIA_DIRECT = "direct"
_STARTER_ROLES = {VIA_SCHEDULE: ("system",), VIA_OPERATOR: ("operator",), VIA_CONSOLE: ("organiser",),
                  VIA_DIRECT: ("unknown",)}
_ACTOR = re.compile(r"[A-Za-z0-9:/@._+=,-]{1,256}")  # Cognito subjects, IAM ARNs, "schedule"


class StarterError(ValueError):
    """An export function's event names its starter in a way no caller of ours does."""


@dataclass(frozen=True)
class RunStarter:
    actor: str
    role: str
    via: str

    def to_json(self) -> dict[str, str]:
        return {"actor": self.actor, "role": self.role, "via": self.via}

    @classmethod
    def from_event(cls, value: object) -> RunStarter:
        """From the export function's event; absent, the invocation named nobody (it is still recorded)."""
        if value is None:
            return UNNAMED_STARTER
        if not isinstance(value, Mapping):
            raise StarterError("started_by must be an object")
        actor, role, via = (value.get(name) for name in ("actor", "role", "via"))
        if not isinstance(via, str) or via not in _STARTER_ROLES or role not in _STARTER_ROLES[via]:
            raise StarterError("started_by names a way of starting or a role that does not exist")
        if not isinstance(actor, str) or not _ACTOR.fullmatch(actor):
            raise StarterError("started_by's actor is not an account identifier")
        return cls(actor, str(role), via)


SCHEDULE_STARTER = RunStarter("schedule", "system", VIA_SCHEDULE)
UNNAMED_STARTER = RunStarter("unnamed", "unknown", VIA_DIRECT)


@dataclass(frozen=True)
class CollectionState:
    """Whether statements are accepted; the public pages read it once per counts' cache period."""

    paused: bool = False
    version: int = 0  # each change writes version + 1, on condition the stored version is still this one
    changed_at: str = ""
    phase: str = PHASE_UNSET

    @property
    def refuses_statements(self) -> bool:
        return self.paused or self.phase == PHASE_GOING_LIVE


class CollectionStates(Protocol):
    def state(self, initiative_id: str) -> CollectionState: ...


class ConsoleStore(Protocol):
    def append(self, initiative_id: str, entry: AuditEntry) -> None:
        """Add an entry; never replaces one (the write is conditional on the key being new)."""
        ...

    def entries(self, initiative_id: str) -> list[AuditEntry]:
        """Every entry, newest first."""
        ...

    def state(self, initiative_id: str) -> CollectionState: ...

    def replace_state(self, initiative_id: str, state: CollectionState, entry: AuditEntry) -> bool:
        """Store state (whose version is the stored one + 1) and its audit entry, both or neither;
        False, and nothing written, when another change came first."""
        ...

    def sign_out(self, initiative_id: str, session_id: str, keep_until: int, entry: AuditEntry) -> bool:
        """Record the session as signed out until `keep_until` (epoch seconds: when its token expires) with
        the audit entry, both or neither; False, and nothing written, if it was signed out already."""
        ...

    def signed_out(self, session_id: str) -> bool:
        """Whether the session was signed out (a strongly consistent read)."""
        ...


class OccasionAuditLog(Protocol):
    """What the export may do to the audit log: add an entry for an occasion (a run's start), once."""

    def append_once(self, initiative_id: str, occasion: str, entry: AuditEntry) -> bool:
        """Add the entry unless one was added for this occasion already (False then, nothing written)."""
        ...


CSV_COLUMNS = ("at", "actor", "role", "action", "details")


def audit_csv(entries: Iterable[AuditEntry]) -> str:
    """The log as CSV, a cell per column; details as key=value pairs. A cell starting with a formula sign
    is prefixed with an apostrophe, so a spreadsheet shows it rather than running it."""
    def cell(value: str) -> str:
        return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for entry in entries:
        details = " ".join(f"{key}={value}" for key, value in sorted(entry.details.items()))
        writer.writerow([cell(entry.at), cell(entry.actor), cell(entry.role), cell(entry.action), cell(details)])
    return out.getvalue()
