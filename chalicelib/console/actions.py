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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from chalicelib.console import records
from chalicelib.console.records import AuditEntry, ConsoleStore
from chalicelib.console.tokens import InvalidSessionError, Organiser, TokenVerifier

logger = logging.getLogger(__name__)

# Actions any signed-in role may ask for; the others need the organiser role.
_READS = frozenset({"audit_log", "state", records.SIGN_IN})


@dataclass(frozen=True)
class ConsoleContext:
    initiative_id: str
    verifier: TokenVerifier
    store: ConsoleStore
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)


def _refused(code: str) -> dict[str, Any]:
    return {"ok": False, "refusal": code}


def perform(context: ConsoleContext, request: Mapping[str, Any]) -> dict[str, Any]:
    action = str(request.get("action", ""))
    arguments = request.get("arguments") or {}
    if not isinstance(arguments, Mapping):
        return _refused("bad_request")
    try:
        organiser = context.verifier.verify(str(request.get("token", "")))
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


def _state(context: ConsoleContext, organiser: Organiser, arguments: Mapping[str, Any]) -> dict[str, Any]:
    state = context.store.state(context.initiative_id)
    return {"ok": True, "paused": state.paused, "changed_at": state.changed_at, "role": organiser.role}


def _audit_log(context: ConsoleContext, organiser: Organiser, arguments: Mapping[str, Any]) -> dict[str, Any]:
    entries = context.store.entries(context.initiative_id)
    return {"ok": True, "entries": [
        {"at": entry.at, "actor": entry.actor, "role": entry.role, "action": entry.action,
         "details": dict(entry.details)} for entry in entries]}


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


_HANDLERS: dict[str, Callable[[ConsoleContext, Organiser, Mapping[str, Any]], dict[str, Any]]] = {
    records.SIGN_IN: _record_sign_in,
    "state": _state,
    "audit_log": _audit_log,
    records.PAUSE: _set_paused(True),
    records.RESUME: _set_paused(False),
}
