"""How far an initiative has come: signatories against the goal, and each Member State against its minimum.

Pure: it takes the counts per Member State code, the initiative's dates and the day, and returns
plain values that the page and the public JSON both show.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from chalicelib.rules.member_states import all_member_states

# Art. 3(1)(a) Reg. (EU) 2019/788: at least one million signatories.
SIGNATORIES_GOAL = 1_000_000
# Art. 3(1)(b): in at least a quarter of the Member States (7 of 27) the Annex I minimum is reached.
MEMBER_STATES_NEEDED = 7


@dataclass(frozen=True)
class MemberStateProgress:
    code: str  # EU protocol code, "EL" for Greece
    count: int
    threshold: int  # the Annex I minimum in force on the initiative's registration date
    percent: float  # count against threshold, not capped: 250.0 when the minimum is reached 2.5 times

    @property
    def reached(self) -> bool:
        return self.count >= self.threshold


@dataclass(frozen=True)
class Progress:
    total: int  # signatories of all 27 Member States
    goal: int
    days_left: int
    member_states: tuple[MemberStateProgress, ...]  # the 27, in the EU's protocol order
    states_needed: int

    @property
    def percent(self) -> float:
        return 100 * self.total / self.goal

    @property
    def states_reached(self) -> int:
        return sum(1 for state in self.member_states if state.reached)


def days_left(collection_start: date, collection_end: date, today: date) -> int:
    """Days on which statements can still be given, today and the end date included; 0 after the end.

    Before the collection starts, that is the whole period; on its last day, 1.
    """
    if today > collection_end:
        return 0
    return (collection_end - max(today, collection_start)).days + 1


def measure_progress(
    counts: Mapping[str, int],
    *,
    registration_date: date,
    collection_start: date,
    collection_end: date,
    today: date,
) -> Progress:
    """The progress on `today`. Codes in `counts` that are no Member State's are left out."""
    states = []
    for state in all_member_states():
        count = max(0, counts.get(state.code, 0))
        threshold = state.threshold_for(registration_date)
        states.append(MemberStateProgress(state.code, count, threshold, 100 * count / threshold))
    return Progress(
        total=sum(state.count for state in states),
        goal=SIGNATORIES_GOAL,
        days_left=days_left(collection_start, collection_end, today),
        member_states=tuple(states),
        states_needed=MEMBER_STATES_NEEDED,
    )
