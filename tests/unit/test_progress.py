"""What the initiative page and /counts.json say about progress: totals, days left, each State's minimum."""

from __future__ import annotations

from datetime import date

import pytest

from chalicelib.counting.progress import (
    MEMBER_STATES_NEEDED,
    SIGNATORIES_GOAL,
    Progress,
    days_left,
    measure_progress,
)

START, END = date(2026, 9, 1), date(2027, 8, 31)


def _progress(counts: dict[str, int], registered: date = date(2026, 7, 1),
              today: date = date(2026, 11, 27)) -> Progress:
    return measure_progress(counts, registration_date=registered, collection_start=START, collection_end=END,
                            today=today)


def _threshold(code: str, registered: date) -> int:
    [state] = [state for state in _progress({}, registered).member_states if state.code == code]
    return state.threshold


@pytest.mark.parametrize(
    ("registered", "code", "minimum"),
    [
        pytest.param(date(2023, 5, 10), "DE", 67_680, id="2023-initiative-705-seat-table-DE"),
        pytest.param(date(2023, 5, 10), "MT", 4_230, id="2023-initiative-705-seat-table-MT"),
        pytest.param(date(2023, 5, 10), "BE", 14_805, id="2023-initiative-705-seat-table-BE"),
        pytest.param(date(2025, 3, 1), "DE", 69_120, id="2025-initiative-720-seat-table-DE"),
        pytest.param(date(2025, 3, 1), "MT", 4_320, id="2025-initiative-720-seat-table-MT"),
        pytest.param(date(2025, 3, 1), "BE", 15_840, id="2025-initiative-720-seat-table-BE"),
        pytest.param(date(2024, 7, 15), "FR", 55_695, id="last-day-of-the-705-seat-table"),
        pytest.param(date(2024, 7, 16), "FR", 58_320, id="first-day-of-the-720-seat-table"),
        pytest.param(date(2020, 1, 15), "DE", 72_096, id="january-2020-751-seat-table"),
    ],
)
def test_each_state_is_measured_against_the_minimum_in_force_on_the_registration_date(
    registered: date, code: str, minimum: int
) -> None:
    assert _threshold(code, registered) == minimum


def test_the_720_seat_table_sums_to_what_the_commission_computes() -> None:
    assert sum(state.threshold for state in _progress({}, date(2025, 3, 1)).member_states) == 518_400


@pytest.mark.parametrize(
    ("count", "reached"),
    [(0, False), (69_119, False), (69_120, True), (176_812, True)],
)
def test_a_state_is_marked_reached_from_exactly_its_minimum(count: int, reached: bool) -> None:
    [germany] = [state for state in _progress({"DE": count}).member_states if state.code == "DE"]

    assert germany.count == count
    assert germany.reached is reached
    assert germany.percent == pytest.approx(100 * count / 69_120)


@pytest.mark.parametrize(
    ("counts", "total", "reached"),
    [
        pytest.param({}, 0, 0, id="nothing-yet"),
        pytest.param({"DE": 176_812, "MT": 4_319}, 181_131, 1, id="germany-over-malta-one-short"),
        pytest.param({"DE": 70_000, "FR": 60_000, "MT": 4_320, "LU": 5_000}, 139_320, 4, id="four-states"),
        pytest.param({code: 60_000 for code in ("DE", "FR", "IT", "ES", "PL", "RO", "NL", "BE")},
                     480_000, 7, id="seven-of-eight-reached-poland-short"),
        pytest.param({"DE": 100, "XX": 5_000, "UK": 90_000}, 100, 0, id="codes-of-no-member-state-ignored"),
    ],
)
def test_total_and_states_reached(counts: dict[str, int], total: int, reached: int) -> None:
    progress = _progress(counts)

    assert progress.total == total
    assert progress.goal == SIGNATORIES_GOAL == 1_000_000
    assert progress.percent == pytest.approx(100 * total / 1_000_000)
    assert progress.states_reached == reached
    assert progress.states_needed == MEMBER_STATES_NEEDED == 7


def test_every_member_state_is_listed_once_in_protocol_order_even_without_signatories() -> None:
    codes = [state.code for state in _progress({"SE": 3}).member_states]

    assert len(codes) == len(set(codes)) == 27
    assert codes[:3] == ["BE", "BG", "CZ"] and codes[-1] == "SE"


@pytest.mark.parametrize(
    ("today", "left"),
    [
        pytest.param(date(2026, 7, 1), 365, id="before-the-start-the-whole-period"),
        pytest.param(START, 365, id="first-day"),
        pytest.param(date(2026, 11, 27), 278, id="during"),
        pytest.param(date(2027, 8, 30), 2, id="day-before-the-last"),
        pytest.param(END, 1, id="last-day-still-one-to-sign"),
        pytest.param(date(2027, 9, 1), 0, id="day-after-the-end"),
        pytest.param(date(2030, 1, 1), 0, id="long-after"),
    ],
)
def test_days_left_count_today_and_the_last_day(today: date, left: int) -> None:
    assert days_left(START, END, today) == left
    assert _progress({}, today=today).days_left == left
