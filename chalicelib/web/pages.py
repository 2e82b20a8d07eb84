"""HTML pages: each function turns plain values into a complete response with its headers.

Jinja2 and Babel are imported on the first render, not at `import app`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from chalice.app import Response

from chalicelib.config import PROJECT_ROOT
from chalicelib.counting.progress import Progress
from chalicelib.initiative import Initiative
from chalicelib.rules.member_states import MemberState, all_member_states
from chalicelib.signing.form import DATE_PARTS, FORM_TOKEN, FORMAT_CONFIRMED, HONEYPOT, FormSpec
from chalicelib.web import i18n, messages
from chalicelib.web.headers import html_headers

if TYPE_CHECKING:
    from jinja2 import Environment

    from chalicelib.signing.submit import Receipt
    from chalicelib.signing.validate import ValidationResult

TEMPLATES_DIR = PROJECT_ROOT / "templates"


@dataclass(frozen=True)
class PageContext:
    """What every page needs: the language, the initiative, the day, and where the page lives."""

    language: str
    initiative: Initiative
    today: date
    path: str  # this page's path, for the language switcher's links
    test_phase: bool = False  # the organisers' test phase: a form's or receipt's statement is a test statement


@cache
def _environment(language: str) -> Environment:
    # One environment per language: gettext is bound to the environment, and a Lambda or a local
    # server thread may render several languages.
    from jinja2 import Environment, FileSystemLoader

    environment = Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        auto_reload=False,  # templates never change in a running function: skip the stat per render
        lstrip_blocks=True,
    )
    environment.install_gettext_translations(i18n.translations(language), newstyle=True)  # type: ignore[attr-defined]
    environment.filters["number"] = lambda value: i18n.format_number(value, language)
    environment.filters["day"] = lambda value: i18n.format_day(value, language)
    return environment


def _link(path: str, language: str, **query: str) -> str:
    return f"{path}?{urlencode({**query, 'lang': language})}"


def _state_name(state: MemberState, language: str) -> str:
    return i18n.country_name(state.iso_code, language)


def _render(context: PageContext, template: str, status: int = 200, cache: str = "no-store",
            **values: Any) -> Response:
    body = _render_body(context, template, **values)
    return Response(body=body, status_code=status, headers=html_headers(context.language, cache))


def _render_body(context: PageContext, template: str, **values: Any) -> str:
    text, text_language = context.initiative.text(context.language)
    return _environment(context.language).get_template(template).render(
        language=context.language,
        languages=[(code, i18n.LANGUAGE_NAMES[code], _link(context.path, code))
                   for code in i18n.SUPPORTED_LANGUAGES],
        language_name=i18n.LANGUAGE_NAMES[context.language],
        initiative=context.initiative,
        text=text,
        text_language=text_language,
        home=_link("/", context.language),
        test_phase=context.test_phase,
        **values,
    )


def initiative_page(context: PageContext, progress: Progress, cache_control: str) -> Response:
    language = context.language
    names = {state.code: _state_name(state, language) for state in all_member_states()}
    states = [
        {
            "code": state.code,
            "name": names[state.code],
            "min_age": state.min_age,
            "part": state.annex_iii_part,
            "calendar_year": state.age_rule == "reached_in_calendar_year",
            "link": _link(f"/sign/{state.code}", language),
        }
        for state in all_member_states()
    ]
    states.sort(key=lambda state: i18n._sort_key(str(state["name"])))
    # Each State's signatories against its minimum, in the same order as the names above.
    thresholds = sorted(
        (
            {
                "name": names[state.code],
                "count": state.count,
                "threshold": state.threshold,
                "bar": min(state.count, state.threshold),
                "percent": i18n.format_percent(state.percent, language),
                "reached": state.reached,
            }
            for state in progress.member_states
        ),
        key=lambda row: i18n._sort_key(str(row["name"])),
    )
    return _render(
        context, "initiative.html", cache=cache_control,
        states=states, thresholds=thresholds, progress=progress,
        collecting=context.initiative.collecting_on(context.today),
        not_started=context.today < context.initiative.collection_start,
    )


def form_page(
    context: PageContext,
    spec: FormSpec,
    token: str,
    submitted: Mapping[str, str] | None = None,
    result: ValidationResult | None = None,
    notice: str = "",
    status: int | None = None,
) -> Response:
    language = context.language
    gettext = i18n.translations(language).gettext
    state = spec.member_state
    state_name = _state_name(state, language)
    values = dict(submitted or {})
    values.pop(FORM_TOKEN, None)
    values.pop(HONEYPOT, None)
    errors: dict[str, list[str]] = {}
    for error in result.errors if result else ():
        errors.setdefault(error.field, []).append(
            messages.error_message(error, i18n.translations(language), state.age_rule == "reached_in_calendar_year")
        )
    fields = []
    for spec_field in spec.fields:
        if spec_field.kind == "id_type" and not spec.chooses_id_type:
            continue
        fields.append({
            "name": spec_field.name,
            "kind": spec_field.kind,
            "label": gettext(messages.FIELD_LABELS[spec_field.name]),
            "hint": gettext(messages.FIELD_HINTS[spec_field.name]) if spec_field.name in messages.FIELD_HINTS else "",
            "autocomplete": spec_field.autocomplete,
            "max_length": spec_field.max_length,
            "errors": errors.get(spec_field.name, []),
        })
    documents = [
        {"type": document.type, "name": _document_name(gettext(messages.DOCUMENT_TYPES[document.type]),
                                                       document.name_native)}
        for document in state.id_documents
    ]
    if status is None:
        status = 422 if result is not None and result.errors else 200
    return _render(
        context, "form.html", status=status,
        notice=gettext(messages.BAD_REQUESTS[notice]) if notice else "",
        state=state, state_name=state_name, spec=spec, fields=fields, values=values, token=token,
        errors=errors, documents=documents,
        single_document=documents[0]["name"] if len(documents) == 1 else "",
        countries=i18n.country_names(language),
        date_parts=[(part, gettext(messages.DATE_PART_LABELS[part])) for part in DATE_PARTS],
        default_country=state.iso_code,
        needs_confirmation=bool(result and result.needs_format_confirmation),
        format_confirmed_name=FORMAT_CONFIRMED,
        honeypot_name=HONEYPOT,
        privacy_label=gettext(messages.FIELD_LABELS["privacy_accepted"]),
        calendar_year=state.age_rule == "reached_in_calendar_year",
        action=f"/sign/{state.code}",
    )


def _document_name(translated: str, native: str) -> str:
    """The document's name in the page's language, then as its State names it, unless the two are one."""
    return translated if translated.casefold() == native.casefold() else f"{translated} ({native})"


# Every receipt of one day, State, language and page is the same page but for its identifier: it is
# rendered once and the identifier put in its slot, which takes rendering off the POST path's CPU cost.
_RECEIPT_ID_SLOT = "statement-identifier-slot-5f0c1e"
_RECEIPT_PAGES_KEPT = 512
_receipt_pages: dict[tuple[str, str, date, str, bool], tuple[Initiative, str]] = {}


def receipt_page(context: PageContext, state: MemberState, receipt: Receipt) -> Response:
    key = (context.language, state.code, receipt.submitted_on, context.path, context.test_phase)
    cached = _receipt_pages.get(key)
    if cached is None or cached[0] is not context.initiative:  # identity: another initiative, another page
        body = _render_body(context, "receipt.html", state_name=_state_name(state, context.language),
                            receipt=replace(receipt, statement_id=_RECEIPT_ID_SLOT))
        if len(_receipt_pages) >= _RECEIPT_PAGES_KEPT:
            _receipt_pages.clear()
        cached = _receipt_pages[key] = (context.initiative, body)
    # Statement identifiers are UUIDs: nothing in them needs escaping.
    page = cached[1].replace(_RECEIPT_ID_SLOT, receipt.statement_id)
    return Response(body=page, status_code=200, headers=html_headers(context.language, "no-store"))


def closed_page(context: PageContext, status: int = 200, paused: bool = False) -> Response:
    return _render(context, "closed.html", status=status, paused=paused,
                   not_started=context.today < context.initiative.collection_start)


def error_page(context: PageContext, reason: str, status: int, after_post: bool = False) -> Response:
    gettext = i18n.translations(context.language).gettext
    return _render(context, "error.html", status=status, message=gettext(messages.BAD_REQUESTS[reason]),
                   after_post=after_post)
