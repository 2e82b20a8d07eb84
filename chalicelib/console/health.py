"""What the dashboard shows of the machinery: the export runs (totals, reconciliation, failures) and the
counting's health (lag, repairs, dead letters), as small records of numbers, codes and times.

Why records of their own: the export's plan, progress and manifest are in the export bucket under SSE-KMS
with the export key, which also wraps the export files' data keys; the console must never be able to
decrypt with it. So the export, as it plans, fails and finishes a run, writes a summary of what those
documents say (the same numbers, derived from them here, never counted again) to the console table; and
the hourly recount writes what it found. Neither names a person: Member State codes, counts, run ids,
times and error class names only.

Pure: plain values in and out; chalicelib/storage/console_table.py stores them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from chalicelib.exporting.progress import MemberStateProgress, RunPlan

RUNNING = "running"
COMPLETE = "complete"
FAILED = "failed"


@dataclass(frozen=True)
class StateExport:
    """One Member State of a run: what its progress or the manifest says."""

    statements: int
    counter: int | None  # the counters' figure when the State's export completed; None before
    reconciled: bool | None  # the manifest's verdict; None while the run is not finished
    left_out: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"statements": self.statements, "counter": self.counter, "reconciled": self.reconciled,
                "left_out": self.left_out}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> StateExport:
        counter, reconciled = value.get("counter"), value.get("reconciled")
        return cls(int(value.get("statements", 0)), int(counter) if counter is not None else None,
                   bool(reconciled) if reconciled is not None else None, int(value.get("left_out", 0)))


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    started_at: str  # ISO 8601: the plan's creation, the summary's order
    status: str  # RUNNING, COMPLETE or FAILED
    collection_open: bool
    member_states: Mapping[str, StateExport]
    completed_at: str = ""
    failure: str = ""  # "{Member State}: {error class}" of the last failure, while the run is not complete

    @property
    def statements(self) -> int:
        return sum(state.statements for state in self.member_states.values())

    @property
    def counted(self) -> int:
        return sum(state.counter or 0 for state in self.member_states.values())

    @property
    def mismatches(self) -> list[str]:
        return sorted(code for code, state in self.member_states.items() if state.reconciled is False)

    @property
    def reconciled(self) -> bool | None:
        """Whether every State's export matched its exact count; None until the manifest says."""
        if self.status != COMPLETE:
            return None
        return not self.mismatches

    def to_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "started_at": self.started_at, "status": self.status,
                "collection_open": self.collection_open, "completed_at": self.completed_at,
                "failure": self.failure,
                "member_states": {code: state.to_json() for code, state in sorted(self.member_states.items())}}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> RunSummary:
        return cls(run_id=str(value["run_id"]), started_at=str(value["started_at"]), status=str(value["status"]),
                   collection_open=bool(value.get("collection_open", False)),
                   member_states={str(code): StateExport.from_json(state)
                                  for code, state in dict(value.get("member_states", {})).items()},
                   completed_at=str(value.get("completed_at", "")), failure=str(value.get("failure", "")))


def summary_of_run(plan: RunPlan, progresses: Sequence[MemberStateProgress], manifest: Mapping[str, Any] | None,
                   failure: str = "") -> RunSummary:
    """The summary of a run from its own documents: the manifest once there is one, else the progress."""
    if manifest is not None:
        states = {str(code): StateExport(int(state["statements"]),
                                         int(state["counter"]) if state.get("counter") is not None else None,
                                         bool(state["reconciled"]), int(state.get("left_out", 0)))
                  for code, state in dict(manifest.get("member_states", {})).items()}
        return RunSummary(plan.run_id, plan.created_at.isoformat(), COMPLETE, plan.collection_open, states,
                          completed_at=str(manifest.get("completed_at", "")))
    by_state = {progress.member_state: progress for progress in progresses}
    states = {}
    for code in plan.member_states:
        progress = by_state.get(code, MemberStateProgress(code))
        states[code] = StateExport(progress.exported, progress.counter if progress.complete else None, None,
                                   len(progress.left_out))
    return RunSummary(plan.run_id, plan.created_at.isoformat(), FAILED if failure else RUNNING,
                      plan.collection_open, states, failure=failure)


class RunSummaries(Protocol):
    def record_run(self, initiative_id: str, summary: RunSummary) -> None:
        """Store (or replace) the run's summary."""
        ...


@dataclass(frozen=True)
class RecountRecord:
    """What one run of the scheduled recount found (chalicelib/counting/recount.py)."""

    at: str  # ISO 8601, UTC
    final: bool  # counts are final (the purge): nothing is repaired any more
    waiting: int  # statements stored but not yet counted, younger than the repair's threshold
    dead_letter_records: int  # stream records the count function could not read, kept in the counters table
    repairs: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # State -> (counted, taken off)

    @property
    def counted(self) -> int:
        return sum(counted for counted, _ in self.repairs.values())

    @property
    def taken_off(self) -> int:
        return sum(uncounted for _, uncounted in self.repairs.values())

    @property
    def repaired(self) -> int:
        return self.counted + self.taken_off

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at, "final": self.final, "waiting": self.waiting,
                "dead_letter_records": self.dead_letter_records,
                "repairs": {code: list(pair) for code, pair in sorted(self.repairs.items())}}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> RecountRecord:
        return cls(at=str(value["at"]), final=bool(value.get("final", False)), waiting=int(value.get("waiting", 0)),
                   dead_letter_records=int(value.get("dead_letter_records", 0)),
                   repairs={str(code): (int(pair[0]), int(pair[1]))
                            for code, pair in dict(value.get("repairs", {})).items()})


class RecountJournal(Protocol):
    def record_recount(self, initiative_id: str, record: RecountRecord) -> None:
        """Keep the latest run, and every run that repaired something."""
        ...


class HealthSource(Protocol):
    """What the console function reads for the dashboard."""

    def export_runs(self, initiative_id: str, limit: int) -> list[RunSummary]:
        """The latest runs, newest first."""
        ...

    def last_recount(self, initiative_id: str) -> RecountRecord | None: ...

    def repairs(self, initiative_id: str, limit: int) -> list[RecountRecord]:
        """The latest recount runs that repaired something, newest first."""
        ...

    def failed_batches(self) -> int | None:
        """Approximate number of messages in the count function's failure queue; None if it cannot be read."""
        ...


def age_text(then: datetime, now: datetime) -> str:
    """How long ago, for people: "3 minutes ago", "2 hours ago", "just now"."""
    seconds = max(0, int((now - then).total_seconds()))
    for unit, size in (("day", 86_400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            amount = seconds // size
            return f"{amount} {unit}{'s' if amount != 1 else ''} ago"
    return "just now"


def recount_record(report: Any, at: datetime) -> RecountRecord:
    """The record of a recount run (a chalicelib.counting.recount.RecountReport)."""
    return RecountRecord(at=at.isoformat(timespec="seconds"), final=report.final, waiting=report.waiting,
                         dead_letter_records=len(report.dead_letters),
                         repairs={repair.member_state: (repair.counted, repair.uncounted) for repair in report.repairs})
