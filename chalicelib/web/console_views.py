"""The organisers' console at /organiser: sign-in, the dashboard, pausing, the audit log.

Every route checks the session itself (the access token in the session cookie, verified by
chalicelib.console.tokens); every POST checks its CSRF token; actions run through services.console, which
checks the token and the role again where the action runs. The console's pages are in English.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from chalice.app import Request, Response

from chalicelib import services
from chalicelib.console import session
from chalicelib.console.tokens import InvalidSessionError, Organiser, SessionCheckUnavailableError
from chalicelib.web.headers import security_headers
from chalicelib.web.request_body import BadRequestError, parse_form_body

logger = logging.getLogger(__name__)

HOME = "/organiser"
SIGN_IN = "/organiser/sign-in"
SESSION_SECONDS = 3600  # the access token's own lifetime (infra/data.yaml); the token's exp decides

# What a refusal code (from chalicelib.console.actions or from here) says to the organiser.
REFUSALS = {
    "session": "Your session has ended. Please sign in again.",
    "role": "Your account may view the console but not change anything. Ask an organiser.",
    "csrf": "This form was not sent from the console page (or the page is too old). Nothing was changed. "
            "Please go back, reload the page and try again.",
    "bad_request": "This request is not one the console's pages send. Nothing was changed.",
    "already_paused": "Collection is already paused. Nothing was changed.",
    "not_paused": "Collection is not paused. Nothing was changed.",
    "conflict": "Someone else changed the collection's state at the same moment. Nothing was changed by "
                "this request; please look at the dashboard and try again.",
    "unavailable": "The console cannot reach its services just now. Nothing was changed. Please try again.",
    "bad_identifier": "That is not a statement identifier. It is the signing day and 32 hexadecimal digits in "
                      "five groups, like 2026-12-06-0b7c5a4e-1f2d-4c3b-9a8e-7d6c5b4a3f21, as on the signatory's "
                      "receipt. Nothing was deleted.",
    "bad_reason": "Choose why the statement is deleted. Nothing was deleted.",
    "live_for_good": "Collection is live: the test phase cannot come back. Nothing was changed.",
    "already_testing": "The test phase is on already. Nothing was changed.",
    "live_statements_exist": "Statements have already been collected live, so a test phase would mix test and "
                             "real statements. Nothing was changed.",
    "not_testing": "There is no test phase to end: collection is live already. Nothing was changed.",
    "confirm": "Tick the box to confirm that every test statement is to be deleted and that the test phase "
               "cannot come back. Nothing was changed.",
    "retention_over": "The retention period is over: the statements are being destroyed, so there is nothing to "
                      "export. No export was started.",
    "no_statement": "No statement has this identifier: it may have been deleted already, or the identifier "
                    "was copied wrongly (a receipt for a repeated statement by the same person names one that "
                    "was never stored). Nothing was deleted.",
}
SIGN_IN_REFUSALS = {
    "credentials": "The email address or the password is not right.",
    "code": "That code is not right. Type the 6 digits your authenticator app shows now.",
    "password_policy": "Choose a password of at least 14 characters with lower-case and upper-case letters, "
                       "a digit and a symbol.",
    "expired": "This sign-in took too long. Please start again.",
    "unavailable": "Signing in is not possible just now. Please try again in a minute.",
    "form": "Please fill in every field.",
    "csrf": "This sign-in form is too old or was not sent from this site. Please start again.",
}


def _render(template: str, status: int = 200, headers: Mapping[str, str | list[str]] | None = None,
            **values: Any) -> Response:
    from chalicelib.console.charts import grouped
    from chalicelib.web.pages import _environment

    body = _environment("en").get_template(f"organiser/{template}").render(
        initiative=services.current().initiative, number=grouped, **values)
    return Response(body=body, status_code=status, headers={
        **security_headers(), "Content-Type": "text/html; charset=utf-8", "Content-Language": "en",
        "Cache-Control": "no-store", **(headers or {})})


def _redirect(location: str, headers: Mapping[str, str | list[str]] | None = None) -> Response:
    return Response(body="", status_code=303,
                    headers={**security_headers(), "Location": location, "Cache-Control": "no-store",
                             **(headers or {})})


def _message(code: str, status: int, organiser: Organiser | None = None) -> Response:
    return _render("message.html", status=status, message=REFUSALS[code], organiser=organiser,
                   sign_in=code == "session")


def _session_token(request: Request) -> str:
    return session.cookies(request.headers).get(session.SESSION_COOKIE, "")


def signed_in(request: Request) -> tuple[Organiser, str] | Response:
    """The organiser of a valid session and its token, or the answer to a request without one."""
    token = _session_token(request)
    try:
        return services.current().organiser_tokens.verify(token), token
    except SessionCheckUnavailableError as error:
        logger.warning("console session not checked: %s", error)
        return _message("unavailable", 503)
    except InvalidSessionError as error:
        logger.info("console session refused: %s", error)
    if request.method == "GET":
        return _redirect(SIGN_IN)
    return _message("session", 401)


def _signed_in_post(request: Request,
                    names: tuple[str, ...]) -> tuple[Organiser, str, dict[str, str]] | Response:
    """An action's start: the signed-in organiser, the session token and the POST's fields; or the refusal."""
    found = signed_in(request)
    if isinstance(found, Response):
        return found
    organiser, token = found
    fields = _posted(request, token, names)
    if isinstance(fields, Response):
        return fields
    return organiser, token, fields


def _posted(request: Request, token: str, names: tuple[str, ...]) -> dict[str, str] | Response:
    """The POST's fields when its CSRF token matches the session, else the refusal (nothing changes)."""
    try:
        fields = parse_form_body(request.headers, request.raw_body, (session.CSRF_FIELD, *names))
    except BadRequestError:
        return _message("bad_request", 400)
    if not session.csrf_matches(token, fields.get(session.CSRF_FIELD, "")):
        return _message("csrf", 403)
    return fields


_REFUSAL_STATUS = {"role": 403, "session": 401, "unavailable": 503}


def _refused(answer: Mapping[str, Any], organiser: Organiser, more: Mapping[str, int] | None = None,
             otherwise: int = 409) -> Response:
    """The page for an action the console function refused, with the status its reason calls for."""
    code = str(answer.get("refusal", "unavailable"))
    return _message(code, {**_REFUSAL_STATUS, **(more or {})}.get(code, otherwise), organiser)


def _act(action: str, token: str, **arguments: str) -> dict[str, Any]:
    try:
        return services.current().console({"action": action, "token": token, "arguments": arguments})
    except Exception as error:  # the console function or its table did not answer: say so, change nothing
        logger.warning("console action %s failed: %s", action, type(error).__name__)
        return {"ok": False, "refusal": "unavailable"}


# --- pages ------------------------------------------------------------------------------------------------


def dashboard(request: Request) -> Response:
    found = signed_in(request)
    if isinstance(found, Response):
        return found
    organiser, token = found
    current = services.current()
    state = _act("dashboard", token)
    if not state.get("ok"):
        return _message(str(state.get("refusal", "unavailable")), 503)
    from chalicelib.console.actions import DELETION_REASONS
    from chalicelib.console.records import initiative_id_in_test_phase

    counts = current.counters.counts(current.initiative.id)
    phase = str(state.get("phase", ""))
    test_total = sum(current.counters.counts(initiative_id_in_test_phase(current.initiative.id)).values()) \
        if phase in ("test", "going_live") else 0
    return _render("dashboard.html", organiser=organiser, csrf=session.csrf_token(token), phase=phase,
                   test_total=test_total,
                   reasons=sorted(DELETION_REASONS.items()),
                   paused=bool(state["paused"]), changed_at=str(state.get("changed_at", "")),
                   notice=_query(request).get("done", ""), started_run=_started_run(request),
                   **_figures(counts, _query(request).get("ms", "")), **_health(state.get("health") or {}))


def _started_run(request: Request) -> str:
    """The run id the "export started" notice names, if the link holds one (any other text is not shown)."""
    from chalicelib.exporting.layout import RUN_ID

    run_id = _query(request).get("run", "")
    return run_id if RUN_ID.fullmatch(run_id) else ""


def _health(answer: Mapping[str, Any]) -> dict[str, Any]:
    """The export runs and the counting's health as the console function read them (chalicelib/console/health.py)."""
    from datetime import UTC, datetime

    from chalicelib.console.health import RecountRecord, RunSummary, age_text
    from chalicelib.counting.mapping_settings import REPAIR_AFTER_SECONDS

    if not answer.get("ok"):
        return {"health_available": False}
    now = datetime.fromtimestamp(services.current().now(), UTC)
    last = RecountRecord.from_json(answer["last_recount"]) if answer.get("last_recount") else None
    return {
        "health_available": True,
        "export_runs": [RunSummary.from_json(run) for run in answer.get("export_runs", [])],
        "last_recount": last,
        "last_recount_age": age_text(datetime.fromisoformat(last.at), now) if last else "",
        "repairs": [RecountRecord.from_json(record) for record in answer.get("repairs", [])],
        "failed_batches": answer.get("failed_batches"),
        "repair_after_minutes": REPAIR_AFTER_SECONDS // 60,
    }


def _figures(counts: Mapping[str, int], chosen: str) -> dict[str, Any]:
    """The dashboard's numbers and charts: totals against the minimums, days left, signatures per day."""
    from markupsafe import Markup

    from chalicelib.console import charts
    from chalicelib.rules.member_states import all_member_states, member_state
    from chalicelib.web.i18n import country_name
    from chalicelib.web.views import _progress

    current = services.current()
    progress = _progress(current.initiative, counts, current.today())
    names = {state.code: country_name(state.iso_code, "en") for state in all_member_states()}
    rows = [charts.ThresholdRow(names[state.code], state.count, state.threshold) for state in progress.member_states]
    state = member_state(chosen) if chosen else None
    daily: dict[str, dict[str, int]] | None = None
    if current.daily_counts is not None:
        daily = current.daily_counts.daily_counts(current.initiative.id)
    points = charts.daily_series(daily or {}, state.code if state else None)
    scope = names[state.code] if state else "all Member States"
    from chalicelib.exporting.retention import retention_clock

    return {
        "retention": retention_clock(current.initiative),
        "progress": progress, "rows": rows, "total": progress.total,
        "threshold_chart": Markup(charts.threshold_chart("thresholds", rows)),  # noqa: S704 - escaped by charts
        "daily_available": daily is not None, "points": points, "scope": scope,
        "chosen": state.code if state else "", "states": sorted(names.items(), key=lambda item: item[1]),
        "state_names": names,
        "daily_chart": Markup(charts.daily_chart(  # noqa: S704 - every text escaped by charts
            "daily", f"Signatures per day and cumulative, {scope}", points)),
    }


def _query(request: Request) -> Mapping[str, str]:
    return request.query_params or {}


DONE_NOTICES = {"paused": "Collection is paused: the forms say so in every language and refuse statements.",
                "resumed": "Collection has resumed."}


def collection(request: Request) -> Response:
    """Pause or resume collection (organisers only)."""
    posted = _signed_in_post(request, ("action",))
    if isinstance(posted, Response):
        return posted
    organiser, token, fields = posted
    action = fields.get("action", "")
    if action not in ("pause", "resume"):
        return _message("bad_request", 400, organiser)
    answer = _act(action, token)
    if not answer.get("ok"):
        return _refused(answer, organiser)
    return _redirect(f"{HOME}?done={'paused' if action == 'pause' else 'resumed'}")


def phase(request: Request) -> Response:
    """Start the test phase, or go live (deleting every test statement, a batch per call, resumably)."""
    posted = _signed_in_post(request, ("action", "confirm"))
    if isinstance(posted, Response):
        return posted
    organiser, token, fields = posted
    action = fields.get("action", "")
    if action not in ("start_test_phase", "go_live"):
        return _message("bad_request", 400, organiser)
    if action == "go_live" and fields.get("confirm") != "yes":
        return _message("confirm", 400, organiser)
    answer = _act(action, token)
    if not answer.get("ok"):
        return _refused(answer, organiser)
    if action == "go_live" and not answer.get("done"):
        return _redirect(f"{HOME}?done=going_live")
    return _redirect(f"{HOME}?done={'testing' if action == 'start_test_phase' else 'live'}")


def start_export(request: Request) -> Response:
    """Start an export run now, besides the daily one (organisers only); the export records who started it."""
    posted = _signed_in_post(request, ())
    if isinstance(posted, Response):
        return posted
    organiser, token, _ = posted
    answer = _act("start_export", token)
    if not answer.get("ok"):
        return _refused(answer, organiser, {"retention_over": 410})
    return _redirect(f"{HOME}?done=export_started&run={answer['run_id']}#exports-heading")


def delete_statement(request: Request) -> Response:
    """Delete a statement on the signatory's request, by the identifier on their receipt (organisers only)."""
    posted = _signed_in_post(request, ("statement_id", "reason"))
    if isinstance(posted, Response):
        return posted
    organiser, token, fields = posted
    answer = _act("delete_statement", token, statement_id=fields.get("statement_id", ""),
                  reason=fields.get("reason", ""))
    if not answer.get("ok"):
        return _refused(answer, organiser, {"no_statement": 404}, otherwise=400)
    return _render("deleted.html", organiser=organiser, csrf=session.csrf_token(token),
                   statement_id=answer["statement_id"], member_state=answer["member_state"])


def audit_log(request: Request) -> Response:
    found = signed_in(request)
    if isinstance(found, Response):
        return found
    organiser, token = found
    answer = _act("audit_log", token)
    if not answer.get("ok"):
        return _message(str(answer.get("refusal", "unavailable")), 503, organiser)
    return _render("audit.html", organiser=organiser, csrf=session.csrf_token(token), entries=answer["entries"])


def audit_csv(request: Request) -> Response:
    from chalicelib.console.records import AuditEntry, audit_csv

    found = signed_in(request)
    if isinstance(found, Response):
        return found
    organiser, token = found
    answer = _act("audit_log", token)
    if not answer.get("ok"):
        return _message(str(answer.get("refusal", "unavailable")), 503, organiser)
    body = audit_csv(AuditEntry(**entry) for entry in answer["entries"])
    return Response(body=body, status_code=200, headers={
        **security_headers(), "Content-Type": "text/csv; charset=utf-8", "Cache-Control": "no-store",
        "Content-Disposition": 'attachment; filename="audit-log.csv"'})


# --- signing in -------------------------------------------------------------------------------------------

_SIGN_IN_FIELDS = ("step", session.CSRF_FIELD, "email", "password", "new_password", "code", "session", "username",
                   "secret")


def sign_in_page(request: Request) -> Response:
    nonce = session.new_sign_in_nonce()
    return _render("sign_in.html", step="password", csrf=nonce, signed_out=_query(request).get("signed_out") == "1",
                   headers={"Set-Cookie": session.set_cookie(session.SIGN_IN_COOKIE, nonce,
                                                             session.SIGN_IN_COOKIE_SECONDS)})


def sign_in(request: Request) -> Response:
    """One step of signing in: password; then a new password (first time), an authenticator app (first
    time) or the app's code; then the session cookie, and the sign-in in the audit log."""
    from chalicelib.storage.organiser_accounts import Challenge, SignedIn, SignInRefusedError

    nonce = session.cookies(request.headers).get(session.SIGN_IN_COOKIE, "")
    try:
        fields = parse_form_body(request.headers, request.raw_body, _SIGN_IN_FIELDS)
    except BadRequestError:
        return _render("sign_in.html", status=400, step="password", csrf=nonce, error=SIGN_IN_REFUSALS["form"])
    if not session.sign_in_nonce_matches(nonce, fields.get(session.CSRF_FIELD, "")):
        return _render("sign_in.html", status=403, step="password", csrf=nonce, error=SIGN_IN_REFUSALS["csrf"])
    step = fields.get("step", "")
    accounts = services.current().organiser_sign_in
    challenge = Challenge(name=step, session=fields.get("session", ""), username=fields.get("username", ""),
                          secret=fields.get("secret", ""))
    try:
        if step == "password":
            email, password = fields.get("email", "").strip(), fields.get("password", "")
            if not email or not password:
                raise SignInRefusedError("form")
            outcome = accounts.start(email, password)
        elif step in ("new_password", "mfa_setup", "mfa_code") and challenge.session and challenge.username:
            if step == "new_password":
                if not fields.get("new_password"):
                    raise SignInRefusedError("form")
                outcome = accounts.new_password(challenge, fields["new_password"])
            else:
                code = fields.get("code", "").replace(" ", "")
                if not (code.isascii() and code.isdigit() and len(code) == 6):
                    raise SignInRefusedError("code")
                outcome = (accounts.set_up_mfa if step == "mfa_setup" else accounts.mfa_code)(challenge, code)
        else:
            raise SignInRefusedError("form" if step == "password" else "expired")
    except SignInRefusedError as refusal:
        status = 401 if refusal.reason in ("credentials", "code") else 400
        retry = challenge if refusal.reason in ("code", "password_policy", "form") and step != "password" else None
        if retry is None:
            return _render("sign_in.html", status=status if step == "password" else 400, step="password",
                           csrf=nonce, error=SIGN_IN_REFUSALS.get(refusal.reason, SIGN_IN_REFUSALS["unavailable"]))
        return _render("sign_in.html", status=status, step=step, csrf=nonce, challenge=retry,
                       error=SIGN_IN_REFUSALS.get(refusal.reason, SIGN_IN_REFUSALS["unavailable"]))
    if isinstance(outcome, Challenge):
        next_step = {"NEW_PASSWORD_REQUIRED": "new_password", "MFA_SETUP": "mfa_setup"}.get(outcome.name, "mfa_code")
        return _render("sign_in.html", step=next_step, csrf=nonce, challenge=outcome)
    assert isinstance(outcome, SignedIn)
    recorded = _act("sign_in", outcome.access_token)
    if not recorded.get("ok"):
        # A token Cognito gave that this console does not accept (no role, another client): no session.
        code = str(recorded.get("refusal", "unavailable"))
        return _render("sign_in.html", status=403 if code == "session" else 503, step="password", csrf=nonce,
                       error="This account has no role in the console. Ask an organiser to give it one."
                       if code == "session" else SIGN_IN_REFUSALS["unavailable"])
    return _redirect(HOME, {"Set-Cookie": [
        session.set_cookie(session.SESSION_COOKIE, outcome.access_token, SESSION_SECONDS),
        session.clear_cookie(session.SIGN_IN_COOKIE)]})


def sign_out(request: Request) -> Response:
    """End the session on the server (a copy of the cookie is refused from now on), then forget the cookie."""
    found = signed_in(request)
    if isinstance(found, Response):
        if found.status_code == 503:  # whether it is signed out could not be read: say so, keep the cookie
            return found
        return _redirect(SIGN_IN, {"Set-Cookie": session.clear_cookie(session.SESSION_COOKIE)})
    organiser, token = found
    fields = _posted(request, token, ())
    if isinstance(fields, Response):
        return fields
    answer = _act("sign_out", token)
    if not answer.get("ok") and answer.get("refusal") != "session":  # "session": signed out already
        return _refused(answer, organiser)  # not signed out: the page says so, and the cookie stays
    if not services.current().organiser_sign_in.sign_out(token):
        logger.warning("console sign-out: Cognito did not sign the account's tokens out; the console refuses it")
    return _redirect(f"{SIGN_IN}?signed_out=1", {"Set-Cookie": session.clear_cookie(session.SESSION_COOKIE)})
