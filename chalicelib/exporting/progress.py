"""A run's plan and each Member State's progress: what lets an interrupted run resume exactly.

A Member State is exported by scanning its 16 buckets in order, each in statement_id order, so every
statement has a position (bucket, statement_id) and the scan meets positions in ascending order.
Each language's statements go to that language's parts, N at a time; a part is recorded here only
once its file is complete in the store. So, for a resumed scan:

* a statement at or before ``scanned_through`` is in a complete part (the scan stopped cleanly
  there, closing every open part first), and the scan restarts just after it;
* a statement of language L at or before the last position of L's last recorded part is in a
  complete part too (the scan died with other parts open: those are written again).

Every other statement is exported now. None is written twice, and none is skipped, among the
statements that existed when the parts were written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

PLAN_FORMAT = "eci-export-plan/1"
PROGRESS_FORMAT = "eci-export-progress/1"


class ProgressFormatError(ValueError):
    """A stored plan or progress document is not one this code wrote."""


@dataclass(frozen=True, order=True)
class Position:
    bucket: int
    statement_id: str

    def to_json(self) -> list[Any]:
        return [self.bucket, self.statement_id]

    @classmethod
    def from_json(cls, value: Any) -> Position:
        if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], int)
                and isinstance(value[1], str)):
            raise ProgressFormatError("a position is [bucket, statement_id]")
        return cls(value[0], value[1])


@dataclass(frozen=True)
class ExportedFile:
    key: str
    member_state: str
    language: str
    part: int
    statements: int
    size: int  # bytes as stored (encrypted)
    sha256: str  # of the bytes as stored: what `verify` checks after a download
    xml_sha256: str  # of the XML inside: what `decrypt` checks after decryption
    readers: tuple[str, ...]
    context: Mapping[str, str]  # the file's encryption context
    last: Position  # the last statement in it, in scan order

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "member_state": self.member_state,
            "language": self.language,
            "part": self.part,
            "statements": self.statements,
            "bytes": self.size,
            "sha256": self.sha256,
            "xml_sha256": self.xml_sha256,
            "readers": list(self.readers),
            "encryption_context": dict(self.context),
            "last": self.last.to_json(),
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> ExportedFile:
        try:
            return cls(
                key=str(value["key"]),
                member_state=str(value["member_state"]),
                language=str(value["language"]),
                part=int(value["part"]),
                statements=int(value["statements"]),
                size=int(value["bytes"]),
                sha256=str(value["sha256"]),
                xml_sha256=str(value["xml_sha256"]),
                readers=tuple(str(reader) for reader in value["readers"]),
                context={str(k): str(v) for k, v in value["encryption_context"].items()},
                last=Position.from_json(value["last"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ProgressFormatError(f"a file entry is malformed ({type(error).__name__})") from None


@dataclass(frozen=True)
class LeftOut:
    """A statement the export could not write: named by its id and a reason code, never its content."""

    statement_id: str
    reason: str  # "control-character", "unknown-property", "unreadable-payload"

    def to_json(self) -> dict[str, str]:
        return {"statement_id": self.statement_id, "reason": self.reason}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> LeftOut:
        return cls(str(value["statement_id"]), str(value["reason"]))


@dataclass(frozen=True)
class MemberStateProgress:
    member_state: str
    files: tuple[ExportedFile, ...] = ()
    scanned_through: Position | None = None
    complete: bool = False
    counter: int | None = None  # the counters' figure, read when the export of this State completed
    lease_until: datetime | None = None  # a worker holds the State until then
    completed_at: datetime | None = None
    left_out: tuple[LeftOut, ...] = ()  # statements the scan met and could not write

    @property
    def exported(self) -> int:
        return sum(exported.statements for exported in self.files)

    def next_part(self, language: str) -> int:
        return 1 + sum(1 for exported in self.files if exported.language == language)

    def already_exported(self, language: str, position: Position, last_of_language: Position | None) -> bool:
        """Whether the statement at `position` is in a recorded part (see the module's docstring)."""
        if self.scanned_through is not None and position <= self.scanned_through:
            return True
        return last_of_language is not None and position <= last_of_language

    def with_file(self, exported: ExportedFile) -> MemberStateProgress:
        return replace(self, files=(*self.files, exported))

    def with_left_out(self, statement: LeftOut) -> MemberStateProgress:
        """Record a statement left out; once, however often a resumed scan meets it again."""
        if any(known.statement_id == statement.statement_id for known in self.left_out):
            return self
        return replace(self, left_out=(*self.left_out, statement))

    def to_json(self) -> dict[str, Any]:
        return {
            "format": PROGRESS_FORMAT,
            "member_state": self.member_state,
            "files": [exported.to_json() for exported in self.files],
            "scanned_through": self.scanned_through.to_json() if self.scanned_through else None,
            "complete": self.complete,
            "counter": self.counter,
            "lease_until": self.lease_until.isoformat() if self.lease_until else None,
            "completed_at": self.completed_at.isoformat() if self.completed_at else None,
            "left_out": [statement.to_json() for statement in self.left_out],
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> MemberStateProgress:
        if value.get("format") != PROGRESS_FORMAT:
            raise ProgressFormatError(f"progress format is {value.get('format')!r}, not {PROGRESS_FORMAT!r}")
        try:
            scanned = value.get("scanned_through")
            counter = value.get("counter")
            return cls(
                member_state=str(value["member_state"]),
                files=tuple(ExportedFile.from_json(item) for item in value["files"]),
                scanned_through=Position.from_json(scanned) if scanned is not None else None,
                complete=bool(value["complete"]),
                counter=int(counter) if counter is not None else None,
                lease_until=_moment(value.get("lease_until")),
                completed_at=_moment(value.get("completed_at")),
                left_out=tuple(LeftOut.from_json(item) for item in value.get("left_out", [])),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ProgressFormatError(f"progress document is malformed ({type(error).__name__})") from None


@dataclass(frozen=True)
class RunPlan:
    initiative_id: str
    run_id: str
    member_states: tuple[str, ...]
    max_statements_per_file: int
    created_at: datetime
    collection_open: bool  # statements may still arrive: the counters may move during the run
    counts_at_start: Mapping[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": PLAN_FORMAT,
            "initiative": self.initiative_id,
            "run_id": self.run_id,
            "member_states": list(self.member_states),
            "max_statements_per_file": self.max_statements_per_file,
            "created_at": self.created_at.isoformat(),
            "collection_open": self.collection_open,
            "counts_at_start": dict(self.counts_at_start),
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> RunPlan:
        if value.get("format") != PLAN_FORMAT:
            raise ProgressFormatError(f"plan format is {value.get('format')!r}, not {PLAN_FORMAT!r}")
        try:
            return cls(
                initiative_id=str(value["initiative"]),
                run_id=str(value["run_id"]),
                member_states=tuple(str(code) for code in value["member_states"]),
                max_statements_per_file=int(value["max_statements_per_file"]),
                created_at=datetime.fromisoformat(str(value["created_at"])),
                collection_open=bool(value["collection_open"]),
                counts_at_start={str(k): int(v) for k, v in value.get("counts_at_start", {}).items()},
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ProgressFormatError(f"plan document is malformed ({type(error).__name__})") from None


def _moment(value: Any) -> datetime | None:
    return datetime.fromisoformat(str(value)) if value else None


def sorted_files(progresses: Sequence[MemberStateProgress]) -> list[ExportedFile]:
    """Every file of a run, by Member State, language and part."""
    files = [exported for progress in progresses for exported in progress.files]
    return sorted(files, key=lambda exported: (exported.member_state, exported.language, exported.part))
