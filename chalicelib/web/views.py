"""What each route does, between the HTTP request and the page: app.py only names the routes.

Every refusal is a page in the citizen's language with a 4xx status; nothing a citizen can send
produces a 500.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import date
from pathlib import Path

from chalice.app import Request, Response

from chalicelib import services
from chalicelib.console.records import PHASE_TEST, CollectionState, initiative_id_in_test_phase
from chalicelib.counting.cached_reader import read_snapshot
from chalicelib.counting.progress import Progress, measure_progress
from chalicelib.initiative import Initiative
from chalicelib.rules.member_states import MemberState, member_state
from chalicelib.signing.form import FORM_TOKEN, HONEYPOT, form_spec
from chalicelib.signing.ports import FormReplayedError, StorageUnavailableError
from chalicelib.web import i18n, pages
from chalicelib.web.conditional import with_entity_tag
from chalicelib.web.counts_json import counts_json
from chalicelib.web.form_token import accepted_nonce, issue_token
from chalicelib.web.headers import json_headers, security_headers, shared_cache_control
from chalicelib.web.request_body import BadRequestError, parse_form_body

logger = logging.getLogger(__name__)

ASSETS_DIR = pages.TEMPLATES_DIR / "assets"
ASSET_TYPES = {".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}


ORIGIN_VERIFY_HEADER = "x-eci-origin-verify"  # set by CloudFront on every request it forwards (infra/edge.yaml)


API_HANDLER = "app.app"  # the handler Chalice gives the API's function; the others are app.<name>


def check_origin_secret(environ: Mapping[str, str]) -> None:
    """Start-up check: deployed, the API function refuses to start without the origin secret.

    Without it every request would be served, and the execute-api address would go round WAF (a plain
    `chalice deploy` sets no secret). Lambda names the function's handler in _HANDLER; locally
    (`make run`, tests) there is no Lambda, no CloudFront, and nothing to check.
    """
    from chalicelib.config import ConfigError

    deployed_api = environ.get("AWS_LAMBDA_FUNCTION_NAME") and environ.get("_HANDLER") == API_HANDLER
    if deployed_api and not environ.get("ORIGIN_VERIFY_SECRET", "").strip():
        raise ConfigError("environment variable ORIGIN_VERIFY_SECRET is not set: the API would answer requests "
                          "that did not come through CloudFront and WAF. Deploy with `make deploy`.")


def refusal_unless_through_the_edge(request: Request) -> Response | None:
    """The page for a request that did not come through CloudFront (and so past WAF), else None.

    The API's execute-api address answers anyone; where a secret is configured only CloudFront knows
    it. The refusal says the page does not exist, which for the public it does not, at that address.
    """
    import hmac

    expected = services.current().settings.origin_verify_secret
    if not expected or hmac.compare_digest(request.headers.get(ORIGIN_VERIFY_HEADER, "").encode(), expected.encode()):
        return None
    return pages.error_page(_context(request, "/"), "not_found", 404)


def _query(request: Request) -> Mapping[str, str]:
    return request.query_params or {}


def _context(request: Request, path: str, form_language: str | None = None) -> pages.PageContext:
    current = services.current()
    query = dict(_query(request))
    if form_language and "lang" not in query:
        query["lang"] = form_language
    language = i18n.choose_language(query, request.headers.get("accept-language"))
    return pages.PageContext(language, current.collected_initiative(), current.today(), path)


def _progress(initiative: Initiative, counts: Mapping[str, int], today: date) -> Progress:
    return measure_progress(counts, registration_date=initiative.registration_date,
                            collection_start=initiative.collection_start,
                            collection_end=initiative.collection_end, today=today)


def initiative(request: Request) -> Response:
    context = _context(request, "/")
    current = services.current()
    progress = _progress(context.initiative, current.counters.counts(context.initiative.id), context.today)
    page = pages.initiative_page(context, progress, shared_cache_control(current.settings.counts_cache_seconds))
    return with_entity_tag(page, request.headers.get("if-none-match"))


def counts(request: Request) -> Response:
    """The initiative page's figures as JSON, the same in every language."""
    current = services.current()
    initiative = current.collected_initiative()
    snapshot = read_snapshot(current.counters, initiative.id, current.now)
    body = counts_json(initiative, _progress(initiative, snapshot.counts, current.today()), snapshot.read_at)
    response = Response(body=body, headers=json_headers(shared_cache_control(current.settings.counts_cache_seconds)))
    return with_entity_tag(response, request.headers.get("if-none-match"))


def not_found(request: Request) -> Response:
    return pages.error_page(_context(request, "/"), "not_found", 404)


def choose_member_state(request: Request) -> Response:
    """The nationality chooser's GET form lands here; send the citizen on to that State's form."""
    context = _context(request, "/sign")
    state = member_state(_query(request).get("ms", ""))
    if state is None:
        return pages.error_page(context, "unknown_member_state", 404)
    return Response(body="", status_code=303,
                    headers={**security_headers(), "Location": f"/sign/{state.code}?lang={context.language}"})


def _open_form(request: Request, code: str, closed_status: int) -> tuple[pages.PageContext, MemberState] | Response:
    """The page context and Member State of a form, or the page that refuses it (unknown State, closed)."""
    context = _context(request, f"/sign/{code}")
    state = member_state(code)
    if state is None or state.code != code.upper() or len(code) != 2:
        return pages.error_page(context, "unknown_member_state", 404, after_post=request.method == "POST")
    if not context.initiative.collecting_on(context.today):
        return pages.closed_page(context, status=closed_status)
    if _collection_state().refuses_statements:
        # Paused, or going live: temporarily refused, 503 for a statement, so no client takes it as final.
        return pages.closed_page(context, status=200 if closed_status == 200 else 503, paused=True)
    return context, state


def _collection_state() -> CollectionState:
    """The organisers' pause and phase (chalicelib/console), read once per counts' cache period, not per
    statement."""
    try:
        return services.current().collection_state()
    except Exception as error:  # the state's table did not answer and nothing is known yet: collecting
        logger.warning("collection state unavailable: %s", type(error).__name__)
        return CollectionState()


def _signing_initiative(initiative: Initiative) -> Initiative:
    """In the test phase statements go under the derived test id: counted, exported and purged apart."""
    from dataclasses import replace

    if _collection_state().phase == PHASE_TEST:
        return replace(initiative, id=initiative_id_in_test_phase(initiative.id))
    return initiative


def sign_form(request: Request, code: str) -> Response:
    opened = _open_form(request, code, closed_status=200)
    if isinstance(opened, Response):
        return opened
    context, state = opened
    current = services.current()
    token = issue_token(current.form_token_key, state.code, current.now())
    return pages.form_page(context, form_spec(state), token)


def submit(request: Request, code: str) -> Response:
    opened = _open_form(request, code, closed_status=403)
    if isinstance(opened, Response):
        return opened
    context, state = opened
    current = services.current()
    spec = form_spec(state)
    try:
        fields = parse_form_body(request.headers, request.raw_body, spec.input_names)
    except BadRequestError as refusal:
        return pages.error_page(context, refusal.reason, refusal.status, after_post=True)
    # The form's own language field decides the reply's language when the URL lost it.
    if fields.get("lang") in i18n.SUPPORTED_LANGUAGES and fields["lang"] != context.language:
        context = _context(request, f"/sign/{code}", fields["lang"])
    nonce = accepted_nonce(current.form_token_key, fields.get(FORM_TOKEN, ""), state.code, current.now(),
                           current.settings.form_token_max_age_seconds)
    if nonce is None or fields.get(HONEYPOT, ""):
        logger.info("form refused: %s", "token" if nonce is None else "honeypot")
        return pages.error_page(context, "form_rejected", 403, after_post=True)
    from chalicelib.signing.submit import submit_statement  # the POST path only: validation and stdnum

    try:
        result = submit_statement(
            initiative=_signing_initiative(context.initiative),
            spec=spec,
            submitted=fields,
            form_language=context.language,
            today=context.today,
            residence_countries=i18n.country_codes(),
            fingerprint_key=current.fingerprint_key,
            sealer=current.sealer,
            store=current.store,
            nonce=nonce,
        )
    except FormReplayedError:
        # A fresh form: a person who sent twice (a double click, a page reloaded) sends once more.
        logger.info("form refused: token used before")
        token = issue_token(current.form_token_key, state.code, current.now())
        return pages.form_page(context, spec, token, fields, notice="form_replayed", status=409)
    except StorageUnavailableError as error:
        logger.warning("statement for %s not stored: %s", state.code, error)
        token = issue_token(current.form_token_key, state.code, current.now())
        return pages.form_page(context, spec, token, fields, notice="storage_unavailable", status=503)
    if result.receipt is None:
        token = issue_token(current.form_token_key, state.code, current.now())
        return pages.form_page(context, spec, token, fields, result.validation)
    return pages.receipt_page(context, state, result.receipt)


# The names our assets have: anything else (a path, a name longer than a file system takes) is not one.
_ASSET_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,99}")


def asset(name: str) -> Response:
    path = ASSETS_DIR / name
    content_type = ASSET_TYPES.get(Path(name).suffix)
    if content_type is None or not _ASSET_NAME.fullmatch(name) or not path.is_file():
        return Response(body="Not found", status_code=404,
                        headers={**security_headers(), "Content-Type": "text/plain; charset=utf-8"})
    return Response(body=path.read_text(encoding="utf-8"), status_code=200,
                    headers={**security_headers(), "Content-Type": content_type,
                             "Cache-Control": "public, max-age=3600"})
