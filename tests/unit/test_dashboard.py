"""The organisers' dashboard: charts drawn on the server with their numbers beside them, no script needed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from chalice.test import Client

import app as app_module
from chalicelib import services
from chalicelib.console import charts
from chalicelib.console.records import AuditEntry, CollectionState
from chalicelib.console.session import SESSION_COOKIE
from chalicelib.console.tokens import Organiser
from tests.fakes import web_only_services

COLLECTING = date(2026, 11, 27)
DAILY = {"2026-11-20": {"DE": 3, "PL": 1}, "2026-11-22": {"DE": 2}, "2026-11-23": {"MT": 5, "DE": 1}}


class FakeDailyCounts:
    """The lead's counting reader as the dashboard expects it (issue #10): ISO day -> {Member State: count}."""

    def __init__(self, daily: dict[str, dict[str, int]]) -> None:
        self.daily = daily

    def daily_counts(self, initiative_id: str) -> dict[str, dict[str, int]]:
        return {day: dict(states) for day, states in self.daily.items()}


class TokenAcceptingOne:
    def __init__(self, organiser: Organiser) -> None:
        self.organiser = organiser

    def verify(self, token: str) -> Organiser:
        from chalicelib.console.tokens import InvalidSessionError

        if token != "good-token":
            raise InvalidSessionError("unknown")
        return self.organiser


class InMemoryConsoleStore:
    def __init__(self) -> None:
        self.audit: list[AuditEntry] = []
        self.current = CollectionState()

    def append(self, initiative_id: str, entry: AuditEntry) -> None:
        self.audit.append(entry)

    def entries(self, initiative_id: str) -> list[AuditEntry]:
        return list(reversed(self.audit))

    def state(self, initiative_id: str) -> CollectionState:
        return self.current

    def replace_state(self, initiative_id: str, state: CollectionState, entry: AuditEntry) -> bool:
        self.current = state
        self.audit.append(entry)
        return True


@pytest.fixture
def dashboard(request: pytest.FixtureRequest) -> Iterator[Client]:
    daily = getattr(request, "param", DAILY)
    current = web_only_services(COLLECTING, {"DE": 72_000, "PL": 1, "MT": 5})
    current.settings = replace(current.settings, console_actions="in-process")
    current.__dict__["organiser_tokens"] = TokenAcceptingOne(Organiser("subject-1", frozenset({"viewer"}), 0))
    current.__dict__["console_store"] = InMemoryConsoleStore()
    current.__dict__["daily_counts"] = FakeDailyCounts(daily) if daily is not None else None
    services.use(current)
    with Client(app_module.app) as client:
        yield client
    services.use(None)


def _get(client: Client, path: str = "/organiser") -> str:
    response = client.http.get(path, headers={"cookie": f"{SESSION_COOKIE}=good-token"})
    assert response.status_code == 200, response.body
    return str(response.body.decode())


def test_days_between_counted_days_are_shown_as_zero_and_the_running_total_adds_up() -> None:
    points = charts.daily_series(DAILY)

    assert [(point.day.day, point.count, point.cumulative) for point in points] == [
        (20, 4, 4), (21, 0, 4), (22, 2, 6), (23, 6, 12)]


def test_one_member_states_series_counts_only_its_statements() -> None:
    assert [point.count for point in charts.daily_series(DAILY, "DE")] == [3, 0, 2, 1]


def test_viewer_sees_signatures_per_day_as_a_chart_and_as_a_table_with_the_same_numbers(dashboard: Client) -> None:
    page = _get(dashboard)

    chart = re.search(r'<svg[^>]*aria-labelledby="daily-title daily-desc"[^>]*>.*?</svg>', page, re.S)
    assert chart and 'role="img"' in chart.group(0)
    assert "<title id=\"daily-title\">Signatures per day and cumulative, all Member States</title>" in page
    rows = re.findall(r'<tr><th scope="row">(2026-11-\d\d)</th><td>(\d+)</td><td>(\d+)</td></tr>', page)
    assert rows == [("2026-11-20", "4", "4"), ("2026-11-21", "0", "4"), ("2026-11-22", "2", "6"),
                    ("2026-11-23", "6", "12")]
    assert "<script" not in page


def test_each_member_state_against_its_minimum_is_charted_and_tabled(dashboard: Client) -> None:
    page = _get(dashboard)

    assert 'aria-labelledby="thresholds-title thresholds-desc"' in page
    assert "1 of 27 Member States have reached their minimum" in page
    assert re.search(r'<th scope="row">Germany</th><td>72000</td><td>\d+</td><td>yes</td>', page)
    assert re.search(r'<th scope="row">Malta</th><td>5</td><td>\d+</td><td>no</td>', page)


def test_days_left_are_shown(dashboard: Client) -> None:
    page = _get(dashboard)

    assert re.search(r"<dt>Days left to collect</dt><dd>\d+ \(until 20\d\d-\d\d-\d\d\)</dd>", page)


def test_retention_clock_says_when_the_purge_runs_and_why(dashboard: Client) -> None:
    from chalicelib.exporting.retention import retention_clock

    clock = retention_clock(services.current().initiative)

    assert f"destroyed from {clock.due_on.isoformat()}: {clock.reason}" in _get(dashboard)


def test_choosing_a_member_state_shows_its_own_days(dashboard: Client) -> None:
    page = _get(dashboard, "/organiser?ms=MT")

    assert "Signatures per day and cumulative, Malta" in page
    rows = re.findall(r'<tr><th scope="row">(2026-11-\d\d)</th><td>(\d+)</td><td>(\d+)</td></tr>', page)
    assert rows[-1] == ("2026-11-23", "5", "5")


@pytest.mark.parametrize("dashboard", [None], indirect=True)
def test_without_daily_counts_from_the_counting_path_the_dashboard_says_so(dashboard: Client) -> None:
    page = _get(dashboard)

    assert "Counts per day are not available" in page
    assert 'aria-labelledby="thresholds-title thresholds-desc"' in page


def test_chart_text_is_escaped() -> None:
    svg = charts.threshold_chart("t", [charts.ThresholdRow("<b>&", 1, 2)])

    assert "&lt;b&gt;&amp;" in svg and "<b>" not in svg


def test_dashboard_without_a_session_sends_to_sign_in(dashboard: Client) -> None:
    response = dashboard.http.get("/organiser", headers={"cookie": f"{SESSION_COOKIE}=forged"})

    assert response.status_code == 303
    assert response.headers["Location"] == "/organiser/sign-in"


def test_audit_entry_fields_are_plain_values(dashboard: Client) -> None:
    store: Any = services.current().console_store
    store.append("demo", AuditEntry("2026-11-27T10:00:00+00:00", "subject-1", "organiser", "pause"))

    assert "<td>pause</td>" in _get(dashboard, "/organiser/audit")


def test_audit_csv_cell_that_a_spreadsheet_would_run_is_shown_as_text() -> None:
    from chalicelib.console.records import audit_csv

    text = audit_csv([AuditEntry("2026-11-27T10:00:00+00:00", "=HYPERLINK(1)", "organiser", "pause",
                                 {"reason": "-1+1"})])

    assert text.splitlines()[1] == "2026-11-27T10:00:00+00:00,'=HYPERLINK(1),organiser,pause,reason=-1+1"
