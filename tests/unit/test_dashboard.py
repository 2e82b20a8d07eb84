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
from chalicelib.console.health import COMPLETE, FAILED, RecountRecord, RunSummary, StateExport
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


class FakeHealth:
    """What the export and the recount recorded, as the console function reads it (chalicelib/console/health.py)."""

    def __init__(self) -> None:
        self.runs: list[RunSummary] = []
        self.last: RecountRecord | None = None
        self.repaired: list[RecountRecord] = []
        self.batches: int | None = 0

    def export_runs(self, initiative_id: str, limit: int) -> list[RunSummary]:
        return self.runs[:limit]

    def last_recount(self, initiative_id: str) -> RecountRecord | None:
        return self.last

    def repairs(self, initiative_id: str, limit: int) -> list[RecountRecord]:
        return self.repaired[:limit]

    def failed_batches(self) -> int | None:
        return self.batches


@pytest.fixture
def dashboard(request: pytest.FixtureRequest) -> Iterator[Client]:
    daily = getattr(request, "param", DAILY)
    current = web_only_services(COLLECTING, {"DE": 72_000, "PL": 1, "MT": 5})
    current.settings = replace(current.settings, console_actions="in-process")
    current.__dict__["organiser_tokens"] = TokenAcceptingOne(Organiser("subject-1", frozenset({"viewer"}), 0))
    current.__dict__["console_store"] = InMemoryConsoleStore()
    current.__dict__["daily_counts"] = FakeDailyCounts(daily) if daily is not None else None
    current.__dict__["health_source"] = FakeHealth()
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
    assert re.search(r'<th scope="row">Germany</th><td>72,000</td><td>[\d,]+</td><td>yes</td>', page)
    assert re.search(r'<th scope="row">Malta</th><td>5</td><td>[\d,]+</td><td>no</td>', page)


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


# --- numbers people can read, and bars they can see ---------------------------------------------------------


def _health() -> FakeHealth:
    health: FakeHealth = services.current().health_source
    return health


def test_numbers_are_grouped_in_thousands_in_the_tables_and_the_charts(dashboard: Client) -> None:
    page = _get(dashboard)

    assert '<dd id="total-signatories">72,006</dd>' in page
    thresholds = re.search(r'<svg[^>]*thresholds-title.*?</svg>', page, re.S)
    assert thresholds and ">72,000</text>" in thresholds.group(0)
    assert charts.grouped(1234567) == "1,234,567" and charts.grouped(0) == "0"


def _bar_of(svg: str, name: str) -> tuple[float | None, str]:
    """The bar's width and the number written beside it, for the row of a Member State in the threshold chart."""
    found = re.search(rf'>{name}</text>(<rect [^>]*width="([\d.]+)"[^>]*/>)?<text [^>]*>([^<]*)</text>', svg)
    assert found, name
    return (float(found.group(2)) if found.group(2) else None), found.group(3)


def test_a_member_state_with_one_signatory_has_a_visible_bar_and_one_with_none_a_zero() -> None:
    svg = charts.threshold_chart("t", [charts.ThresholdRow("Germany", 1, 72_000),
                                       charts.ThresholdRow("Malta", 0, 4_320),
                                       charts.ThresholdRow("Poland", 80_000, 39_600)])

    tiny, tiny_label = _bar_of(svg, "Germany")
    assert tiny is not None and tiny >= charts.MIN_BAR and tiny_label == "1"
    assert _bar_of(svg, "Malta") == (None, "0")
    full, full_label = _bar_of(svg, "Poland")
    assert full is not None and full > tiny and full_label == "80,000"


def test_a_day_with_one_signature_among_thousands_still_has_a_bar() -> None:
    points = charts.daily_series({"2026-11-20": {"DE": 10_000}, "2026-11-21": {"DE": 1}, "2026-11-23": {"DE": 5}})
    svg = charts.daily_chart("d", "t", points)

    heights = [float(height) for height in re.findall(r'<rect [^>]*height="([\d.]+)"', svg)]
    assert len(heights) == 3  # 20th, 21st, 23rd: the 22nd, with none, has no bar
    assert min(heights) >= charts.MIN_BAR


# --- export runs and counting health --------------------------------------------------------------------------


def _run(run_id: str, status: str, states: dict[str, StateExport], failure: str = "") -> RunSummary:
    return RunSummary(run_id, f"{run_id}T02:00:00+00:00", status, True, states,
                      completed_at=f"{run_id}T02:05:00+00:00" if status == COMPLETE else "", failure=failure)


def test_export_runs_show_their_totals_and_whether_each_reconciles(dashboard: Client) -> None:
    _health().runs = [
        _run("2026-11-27", COMPLETE, {"DE": StateExport(71_999, 72_000, False), "MT": StateExport(5, 5, True)}),
        _run("2026-11-26", FAILED, {"DE": StateExport(1_200, None, None)}, failure="DE: ClientError"),
        _run("2026-11-25", COMPLETE, {"DE": StateExport(1_000, 1_000, True)}),
    ]
    page = _get(dashboard)

    rows = re.findall(r'<tr><th scope="row">(2026-11-2\d)</th><td>[^<]*</td><td>(.*?)</td><td>(\d+)</td>'
                      r'<td>([\d,]+)</td><td>([\d,]+)</td><td>(.*?)</td></tr>', page)
    assert [(run, states, exported, counted, reconciled) for run, _, states, exported, counted, reconciled in rows] == [
        ("2026-11-27", "2", "72,004", "72,005", "<strong>no</strong>: DE"),
        ("2026-11-26", "1", "1,200", "0", "not yet"),
        ("2026-11-25", "1", "1,000", "1,000", "yes"),
    ]
    assert "<strong>failed</strong> (DE: ClientError)" in rows[1][1]
    assert re.search(r'<th scope="row">Germany</th><td>71,999</td><td>0</td><td>72,000</td><td><strong>no</strong>',
                     page)
    assert re.search(r'<th scope="row">Malta</th><td>5</td><td>0</td><td>5</td><td>yes</td>', page)


def test_without_any_export_run_the_dashboard_says_none_has_run(dashboard: Client) -> None:
    assert "No export has run yet." in _get(dashboard)


def test_counting_health_shows_lag_repairs_and_dead_letters_from_the_records(dashboard: Client) -> None:
    health = _health()
    health.last = RecountRecord("2026-11-27T09:00:00+00:00", False, 3, 2)
    health.repaired = [RecountRecord("2026-11-27T08:00:00+00:00", False, 0, 0, {"DE": (1_204, 0), "MT": (1, 1)})]
    health.batches = 4
    page = _get(dashboard)

    lag = re.search(r'<dd id="counting-lag">(.*?)</dd>', page, re.S)
    assert lag and "At the last check, 2026-11-27 09:00 UTC" in lag.group(1)
    assert "3 statements stored but not yet counted, each stored less than 66 minutes before" in lag.group(1)
    assert re.search(r'<th scope="row">2026-11-27 08:00</th><td>1,205</td><td>1</td><td>DE, MT</td>', page)
    dead = re.search(r'<dd id="dead-letters">(.*?)</dd>', page, re.S)
    assert dead and dead.group(1).startswith("4 batches") and "2 stream records it could not read" in dead.group(1)


def test_before_the_first_recount_the_dashboard_says_lag_is_not_measured_yet(dashboard: Client) -> None:
    page = _get(dashboard)

    assert "Not measured yet: the first recount runs within the hour." in page
    assert '<dd id="dead-letters">0 batches' in page


def test_when_the_records_cannot_be_read_the_rest_of_the_dashboard_still_shows(dashboard: Client) -> None:
    services.current().__dict__["health_source"] = None  # the console function has nothing to read them with
    page = _get(dashboard)

    assert "cannot read the export's and the counting's records just now" in page
    assert '<dd id="total-signatories">72,006</dd>' in page


def test_one_dashboard_view_asks_the_console_function_once(dashboard: Client) -> None:
    # On AWS each ask is a Lambda invocation that checks the token again: a view should cost one.
    current = services.current()
    asked: list[object] = []
    answer_for = current.console

    def console(request: dict[str, object]) -> dict[str, object]:
        asked.append(request["action"])
        return answer_for(request)

    current.console = console  # type: ignore[method-assign]
    page = _get(dashboard)

    assert asked == ["dashboard"]
    assert "Collection is <strong>open</strong>" in page and 'id="counting-lag"' in page
