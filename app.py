"""Routes and event handlers only: each body hands the request to chalicelib."""

from chalice.app import Chalice, Request, Response

from chalicelib import services
from chalicelib.web import views

app = Chalice(app_name="eci")

# Start-up check: a broken initiative file stops the function here, with every problem listed.
services.check_initiative_file()


def _request() -> Request:
    request = app.current_request
    assert request is not None  # Chalice sets it for every HTTP event
    return request


@app.route("/", methods=["GET"])
def initiative_page() -> Response:
    return views.initiative(_request())


@app.route("/sign", methods=["GET"])
def choose_member_state() -> Response:
    return views.choose_member_state(_request())


@app.route("/sign/{code}", methods=["GET"])
def statement_form(code: str) -> Response:
    return views.sign_form(_request(), code)


# Any content type reaches the view, so a wrong one gets our own page rather than Chalice's JSON.
@app.route("/sign/{code}", methods=["POST"], content_types=["*/*"])
def submit_statement(code: str) -> Response:
    return views.submit(_request(), code)


@app.route("/assets/{name}", methods=["GET"])
def asset(name: str) -> Response:
    return views.asset(name)
