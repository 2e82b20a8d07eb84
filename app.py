"""Routes and event handlers only: each body hands the request to chalicelib."""

import os
from collections.abc import Callable
from typing import Any

from chalice.app import Chalice, CloudWatchEvent, DynamoDBEvent, Rate, Request, Response

from chalicelib import services
from chalicelib.config import statements_stream_arn_from
from chalicelib.web import views

app = Chalice(app_name="eci")

# Start-up check: a broken initiative file stops the function here, with every problem listed.
services.check_initiative_file()
# Deployed, the API function does not start without the secret that proves a request came through the edge.
views.check_origin_secret(os.environ)


@app.middleware("http")
def only_through_the_edge(request: Request, get_response: Callable[[Request], Response]) -> Response:
    return views.refusal_unless_through_the_edge(request) or get_response(request)


def _request() -> Request:
    request = app.current_request
    assert request is not None  # Chalice sets it for every HTTP event
    return request


# Every route requires the API key CloudFront sends (infra/api-access.yaml, infra/edge.yaml): API Gateway
# refuses a request to the execute-api address without it, before Lambda runs and is paid for. Chalice
# has no app-wide setting for it; tests/unit/test_api_key_required.py walks app.routes so none is missed.
# `make run` and chalice's test client ignore the setting.
@app.route("/", methods=["GET"], api_key_required=True)
def initiative_page() -> Response:
    return views.initiative(_request())


@app.route("/counts.json", methods=["GET"], api_key_required=True)
def public_counts() -> Response:
    return views.counts(_request())


@app.route("/sign", methods=["GET"], api_key_required=True)
def choose_member_state() -> Response:
    return views.choose_member_state(_request())


@app.route("/sign/{code}", methods=["GET"], api_key_required=True)
def statement_form(code: str) -> Response:
    return views.sign_form(_request(), code)


# Any content type reaches the view, so a wrong one gets our own page rather than Chalice's JSON.
@app.route("/sign/{code}", methods=["POST"], content_types=["*/*"], api_key_required=True)
def submit_statement(code: str) -> Response:
    return views.submit(_request(), code)


# Where CloudFront sends a path no route here has (infra/edge.yaml): API Gateway would answer it with JSON.
@app.route("/not-found", methods=["GET"], api_key_required=True)
def not_found() -> Response:
    return views.not_found(_request())


# The organisers' console (chalicelib/web/console_views.py): every route checks the session itself.
@app.route("/organiser", methods=["GET"], api_key_required=True)
def organiser_dashboard() -> Response:
    from chalicelib.web import console_views

    return console_views.dashboard(_request())


@app.route("/organiser/sign-in", methods=["GET"], api_key_required=True)
def organiser_sign_in_page() -> Response:
    from chalicelib.web import console_views

    return console_views.sign_in_page(_request())


@app.route("/organiser/sign-in", methods=["POST"], content_types=["*/*"], api_key_required=True)
def organiser_sign_in() -> Response:
    from chalicelib.web import console_views

    return console_views.sign_in(_request())


@app.route("/organiser/sign-out", methods=["POST"], content_types=["*/*"], api_key_required=True)
def organiser_sign_out() -> Response:
    from chalicelib.web import console_views

    return console_views.sign_out(_request())


@app.route("/organiser/collection", methods=["POST"], content_types=["*/*"], api_key_required=True)
def organiser_collection() -> Response:
    from chalicelib.web import console_views

    return console_views.collection(_request())


@app.route("/organiser/phase", methods=["POST"], content_types=["*/*"], api_key_required=True)
def organiser_phase() -> Response:
    from chalicelib.web import console_views

    return console_views.phase(_request())


@app.route("/organiser/exports", methods=["POST"], content_types=["*/*"], api_key_required=True)
def organiser_start_export() -> Response:
    from chalicelib.web import console_views

    return console_views.start_export(_request())


@app.route("/organiser/statements/delete", methods=["POST"], content_types=["*/*"], api_key_required=True)
def organiser_delete_statement() -> Response:
    from chalicelib.web import console_views

    return console_views.delete_statement(_request())


@app.route("/organiser/audit", methods=["GET"], api_key_required=True)
def organiser_audit_log() -> Response:
    from chalicelib.web import console_views

    return console_views.audit_log(_request())


@app.route("/organiser/audit.csv", methods=["GET"], api_key_required=True)
def organiser_audit_csv() -> Response:
    from chalicelib.web import console_views

    return console_views.audit_csv(_request())


@app.route("/assets/{name}", methods=["GET"], api_key_required=True)
def asset(name: str) -> Response:
    return views.asset(name)


# From the oldest record the stream holds, in batches of up to 1,000 (one GetRecords call's worth).
@app.on_dynamodb_record(
    stream_arn=statements_stream_arn_from(os.environ), batch_size=1000, starting_position="TRIM_HORIZON"
)
def count_statements(event: DynamoDBEvent) -> dict[str, list[dict[str, str]]]:
    from chalicelib.counting.exactly_once import count_stream_batch  # here, so GET pages never load it

    # Chalice's wrapper returns this to Lambda: the partial batch response (ReportBatchItemFailures).
    current = services.current()
    return count_stream_batch(event.to_dict(), current.count_ledger, current.settings.count_reports_item_failures,
                              current.today)


@app.schedule(Rate(1, unit=Rate.HOURS))
def recount_statements(event: CloudWatchEvent) -> None:
    from chalicelib.counting.recount import recount

    current = services.current()
    report = recount(current.initiative.id, current.recount_store, current.count_ledger, now=current.now,
                     today=current.today)
    current.record_recount(report)  # for the organisers' dashboard: lag, repairs, dead letters


def _remaining_ms(context: object) -> Callable[[], int] | None:
    """The Lambda context's clock, so long jobs stop cleanly before their time runs out."""
    remaining: Callable[[], int] | None = getattr(context, "get_remaining_time_in_millis", None)
    return remaining


# The day's export run (one run id per day: a second trigger resumes it), fanned out per Member State.
@app.schedule(Rate(1, unit=Rate.DAYS))
def export_daily(event: CloudWatchEvent) -> None:
    from chalicelib import jobs  # here, like every job: GET pages must not pay for the export code

    jobs.current().schedule_export()


# The only function that may decrypt statements: one Member State of a run per invocation, or, on
# demand (the operator's `run`), the start of a run.
@app.lambda_function(name="export_worker")
def export_worker(event: dict[str, Any], context: object) -> dict[str, Any]:
    from chalicelib import jobs

    return jobs.current().work(event, _remaining_ms(context))


# The retention clock: destroys the initiative's statements and exports once it has run out.
@app.schedule(Rate(1, unit=Rate.HOURS))
def purge_statements(event: CloudWatchEvent) -> None:
    from chalicelib import jobs

    jobs.current().purge(_remaining_ms(event.context))


# The console's actions, with their own IAM policy: the token and role are checked again here.
@app.lambda_function(name="console_actions")
def console_actions(event: dict[str, Any], context: object) -> dict[str, Any]:
    from chalicelib.console.actions import perform

    return perform(services.current().console_context(), event)
