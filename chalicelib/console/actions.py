"""Every console action: the token checked again, the role checked, the change made, the audit entry written.

This runs in the console_actions function (its own IAM policy: chalicelib/console/README in .chalice's
policy files) or, where there is no Lambda (make run, tests), in the caller. The web function that calls
it has already checked the session and the CSRF token; this checks the token itself too, so a caller that
could forge a request still could not act without an organiser's valid, unexpired Cognito token.

Requests and answers are plain JSON-able dicts (a Lambda payload):
request ``{"action": ..., "token": ..., "arguments": {...}}``; answer ``{"ok": bool, ...}`` where a refusal
has ``"refusal"``: a code the page turns into a sentence.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from chalicelib.console import records
from chalicelib.console.health import HealthSource
from chalicelib.console.records import AuditEntry, ConsoleStore
from chalicelib.console.tokens import (
    CLOCK_SKEW_SECONDS,
    InvalidSessionError,
    Organiser,
    SessionCheckUnavailableError,
    TokenVerifier,
)

logger = logging.getLogger(__name__)

# Actions any signed-in role may ask for; the others need the organiser role.
_READS = frozenset({"audit_log", "state", "health", "dashboard", records.SIGN_IN, records.SIGN_OUT})


# Why a statement is deleted: a fixed list, so the audit log never holds free text (which could name someone).
DELETION_REASONS = {
    "erasure_request": "The signatory asked for their data to be erased",
    "withdrawn_support": "The signatory withdrew their support",
    "made_in_error": "The signatory says the statement was made in error or by someone else",
}


class StatementDeleter(Protocol):
    def find(self, initiative_id: str, statement_id: str) -> Any:
        """The statement (with its member_state) or None."""
        ...

    def statements_of(self, initiative_id: str, limit: int) -> list[Any]:
        """Up to `limit` of the initiative's statements, as find() returns them."""
        ...

    def delete(self, found: Any, audit_put: dict[str, Any] | None) -> bool:
        """Statement, marker and the audit entry's put (if any), all or none; False if the statement is gone."""
        ...


class ExportStarter(Protocol):
    def start_for_console(self, started_by: records.RunStarter) -> dict[str, Any]:
        """Start a new export run now: ``{"run_id", "member_states"}``, or ``{"refusal": code}``."""
        ...


# Test statements one go-live call deletes at most (each is one small transaction): well inside the
# console function's time; the organiser continues until it is done.
GO_LIVE_BATCH = 200


@dataclass(frozen=True)
class ConsoleContext:
    initiative_id: str
    verifier: TokenVerifier
    store: ConsoleStore
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    deleter: StatementDeleter | None = None
    health: HealthSource | None = None
    exports: ExportStarter | None = None


def _refused(code: str) -> dict[str, Any]:
    return {"ok": False, "refusal": code}


def perform(context: ConsoleContext, request: Mapping[str, Any]) -> dict[str, Any]:
    action = str(request.get("action", ""))
    arguments = request.get("arguments") or {}
    if not isinstance(arguments, Mapping):
        return _refused("bad_request")
    try:
        organiser = context.verifier.verify(str(request.get("token", "")))
    except SessionCheckUnavailableError as error:
        logger.warning("console action %s refused: %s", action[:40], error)
        return _refused("unavailable")
    except InvalidSessionError as error:
        logger.info("console action %s refused: %s", action[:40], error)
        return _refused("session")
    handler = _HANDLERS.get(action)
    if handler is None:
        return _refused("bad_request")
    if action not in _READS and not organiser.may_act():
        logger.info("console action %s refused: role %s", action, organiser.role)
        return _refused("role")
    return handler(context, organiser, arguments)


def _now(context: ConsoleContext) -> str:
    return context.clock().astimezone(UTC).isoformat(timespec="microseconds")


def _entry(context: ConsoleContext, organiser: Organiser, action: str, **details: str) -> AuditEntry:
    return AuditEntry(at=_now(context), actor=organiser.subject, role=organiser.role, action=action, details=details)


def _audit(context: ConsoleContext, organiser: Organiser, action: str, **details: str) -> None:
    context.store.append(context.initiative_id, _entry(context, organiser, action, **details))


def _record_sign_in(context: ConsoleContext, organiser: Organiser, arguments: Mapping[str, Any]) -> dict[str, Any]:
    _audit(context, organiser, records.SIGN_IN)
    return {"ok": True, "role": organiser.role, "subject": organiser.subject}


def _sign_out(context: ConsoleContext, organiser: Organiser, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """End the session for good: its token is refused from now on, by every check, until it expires anyway."""
    if not organiser.session_id:  # the verifier names every session it accepts; a caller that did not is refused
        return _refused("session")
    keep_until = organiser.expires_at + CLOCK_SKEW_SECONDS + 1
    if not context.store.sign_out(context.initiative_id, organiser.session_id, keep_until,
                                  _entry(context, organiser, records.SIGN_OUT)):
        return _refused("session")  # signed out a moment ago, by another request with the same cookie
    return {"ok": True}


def _state(context: ConsoleContext, organiser: Organiser, arguments: Mapping[str, Any]) -> dict[str, Any]:
    state = context.store.state(context.initiative_id)
    return {"ok": True, "paused": state.paused, "changed_at": state.changed_at, "role": organiser.role,
            "phase": state.phase}


def _audit_log(context: ConsoleContext, organiser: Organiser, arguments: Mapping[str, Any]) -> dict[str, Any]:
    entries = context.store.entries(context.initiative_id)
    return {"ok": True, "entries": [
        {"at": entry.at, "actor": entry.actor, "role": entry.role, "action": entry.action,
         "details": dict(entry.details)} for entry in entries]}


# What the dashboard lists: enough to see a trend and the latest trouble, on one page.
LISTED_EXPORT_RUNS = 10
LISTED_REPAIRS = 10


def _health(context: ConsoleContext, organiser: Organiser, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The export runs and the counting's health, from what the export and the recount recorded."""
    if context.health is None:
        return _refused("unavailable")
    last = context.health.last_recount(context.initiative_id)
    return {"ok": True,
            "export_runs": [run.to_json() for run in context.health.export_runs(context.initiative_id,
                                                                                 LISTED_EXPORT_RUNS)],
            "last_recount": last.to_json() if last is not None else None,
            "repairs": [record.to_json() for record in context.health.repairs(context.initiative_id, LISTED_REPAIRS)],
            "failed_batches": context.health.failed_batches()}


def _dashboard(context: ConsoleContext, organiser: Organiser, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The state and the health in one answer: one invocation of the console function per dashboard view."""
    return {**_state(context, organiser, arguments), "health": _health(context, organiser, arguments)}


def _set_paused(paused: bool) -> Callable[[ConsoleContext, Organiser, Mapping[str, Any]], dict[str, Any]]:
    def handler(context: ConsoleContext, organiser: Organiser, arguments: Mapping[str, Any]) -> dict[str, Any]:
        current = context.store.state(context.initiative_id)
        if current.paused == paused:
            return _refused("already_paused" if paused else "not_paused")
        changed = replace(current, paused=paused, version=current.version + 1, changed_at=_now(context))
        entry = _entry(context, organiser, records.PAUSE if paused else records.RESUME)
        if not context.store.replace_state(context.initiative_id, changed, entry):
            return _refused("conflict")
        return {"ok": True, "paused": paused}

    return handler


def canonical_statement_id(text: str) -> str | None:
    """The identifier as receipts print it, from what an organiser typed (spaces, capitals); None if it is none.

    Receipts print ``{signing day}-{UUID}`` (chalicelib/signing/statement_id.py); older ones the UUID alone.
    """
    from chalicelib.signing.statement_id import day_of_statement_id

    typed = text.strip().lower()
    day = day_of_statement_id(typed)
    random_part = typed[11:] if day is not None else typed
    try:
        parsed = uuid.UUID(random_part)
    except ValueError:
        return None
    if str(parsed) != random_part:  # braces, "urn:uuid:" or no hyphens: not as a receipt prints it
        return None
    return f"{day.isoformat()}-{parsed}" if day is not None else str(parsed)


def _delete_statement(context: ConsoleContext, organiser: Organiser, arguments: Mapping[str, Any]) -> dict[str, Any]:
    statement_id = canonical_statement_id(str(arguments.get("statement_id", "")))
    reason = str(arguments.get("reason", ""))
    if statement_id is None:
        return _refused("bad_identifier")
    if reason not in DELETION_REASONS:
        return _refused("bad_reason")
    if context.deleter is None:
        return _refused("unavailable")
    found = context.deleter.find(context.initiative_id, statement_id)
    if found is None:
        return _refused("no_statement")
    entry = _entry(context, organiser, records.DELETE_STATEMENT, statement_id=statement_id,
                   member_state=found.member_state, reason=reason)
    audit_put = context.store.audit_put(context.initiative_id, entry)  # type: ignore[attr-defined]
    if not context.deleter.delete(found, audit_put):
        return _refused("no_statement")  # deleted by someone else a moment ago
    return {"ok": True, "statement_id": statement_id, "member_state": found.member_state}


def _start_test_phase(context: ConsoleContext, organiser: Organiser, arguments: Mapping[str, Any]) -> dict[str, Any]:
    current = context.store.state(context.initiative_id)
    if current.phase in (records.PHASE_LIVE, records.PHASE_GOING_LIVE):
        return _refused("live_for_good")
    if current.phase == records.PHASE_TEST:
        return _refused("already_testing")
    if context.deleter is None:
        return _refused("unavailable")
    if context.deleter.statements_of(context.initiative_id, limit=1):
        return _refused("live_statements_exist")
    changed = replace(current, phase=records.PHASE_TEST, version=current.version + 1, changed_at=_now(context))
    if not context.store.replace_state(context.initiative_id, changed,
                                       _entry(context, organiser, records.START_TEST_PHASE)):
        return _refused("conflict")
    return {"ok": True, "phase": records.PHASE_TEST}


def _go_live(context: ConsoleContext, organiser: Organiser, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """Delete every test statement (and its marker; the counts follow through the stream), a batch per call,
    refusing statements meanwhile; then live for good. Interrupted, the next call continues where it is."""
    batch = arguments.get("batch", GO_LIVE_BATCH)
    if not isinstance(batch, int) or not 1 <= batch <= GO_LIVE_BATCH:
        return _refused("bad_request")
    current = context.store.state(context.initiative_id)
    if current.phase == records.PHASE_LIVE:
        return _refused("live_for_good")
    if current.phase not in (records.PHASE_TEST, records.PHASE_GOING_LIVE):
        return _refused("not_testing")
    if context.deleter is None:
        return _refused("unavailable")
    if current.phase == records.PHASE_TEST:
        current = replace(current, phase=records.PHASE_GOING_LIVE, version=current.version + 1,
                          changed_at=_now(context))
        if not context.store.replace_state(context.initiative_id, current,
                                           _entry(context, organiser, records.GO_LIVE_STARTED)):
            return _refused("conflict")
    test_id = records.initiative_id_in_test_phase(context.initiative_id)
    found = context.deleter.statements_of(test_id, limit=batch)
    deleted = sum(1 for statement in found if context.deleter.delete(statement, None))
    if len(found) >= batch:
        return {"ok": True, "done": False, "deleted": deleted}
    live = replace(current, phase=records.PHASE_LIVE, version=current.version + 1, changed_at=_now(context))
    if not context.store.replace_state(context.initiative_id, live, _entry(context, organiser, records.GO_LIVE)):
        return _refused("conflict")
    return {"ok": True, "done": True, "deleted": deleted}


def _start_export(context: ConsoleContext, organiser: Organiser, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """A new export run now, besides the daily one. The export records it in the audit log as it plans it,
    naming this organiser, so a start that did not happen is never logged and one that did always is."""
    if context.exports is None:
        return _refused("unavailable")
    answer = context.exports.start_for_console(records.RunStarter(organiser.subject, organiser.role,
                                                                  records.VIA_CONSOLE))
    if "refusal" in answer:
        return _refused(str(answer["refusal"]))
    return {"ok": True, "run_id": answer["run_id"], "member_states": answer["member_states"]}


_HANDLERS: dict[str, Callable[[ConsoleContext, Organiser, Mapping[str, Any]], dict[str, Any]]] = {
    records.SIGN_IN: _record_sign_in,
    records.SIGN_OUT: _sign_out,
    "state": _state,
    "audit_log": _audit_log,
    "health": _health,
    "dashboard": _dashboard,
    records.PAUSE: _set_paused(True),
    records.RESUME: _set_paused(False),
    records.DELETE_STATEMENT: _delete_statement,
    records.START_TEST_PHASE: _start_test_phase,
    records.GO_LIVE: _go_live,
    "start_export": _start_export,
}
