"""The manifest of a run: every file with its statement count and SHA-256, and per Member State its
totals and how they reconcile with the counters. A mismatch is listed, never smoothed over.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.exporting.progress import MemberStateProgress, RunPlan, sorted_files

MANIFEST_FORMAT = "eci-export-manifest/2"  # /2: statements left out, and a signature beside it


class ManifestError(ValueError):
    """A manifest is not one this code wrote, or lacks what a check needs."""


@dataclass(frozen=True)
class Reconciliation:
    member_state: str
    exported: int
    counter: int | None  # None: the counters hold nothing for this State
    left_out: int = 0  # counted, met by the export, and not written: listed by id in the manifest

    @property
    def difference(self) -> int:
        return self.exported + self.left_out - (self.counter or 0)

    @property
    def reconciled(self) -> bool:
        if self.counter is None:
            return self.exported + self.left_out == 0
        return self.difference == 0


def build_manifest(
    plan: RunPlan,
    progresses: Sequence[MemberStateProgress],
    registration_number: str,
    completed_at: datetime,
) -> dict[str, Any]:
    by_state = {progress.member_state: progress for progress in progresses}
    missing = [code for code in plan.member_states if not (code in by_state and by_state[code].complete)]
    if missing:
        raise ManifestError(f"the run is not complete: {missing} still to export")
    states: dict[str, Any] = {}
    mismatches: list[str] = []
    for code in plan.member_states:
        progress = by_state[code]
        check = Reconciliation(code, progress.exported, progress.counter, len(progress.left_out))
        if not check.reconciled:
            mismatches.append(code)
        states[code] = {
            "statements": check.exported,
            "files": len(progress.files),
            "languages": sorted({exported.language for exported in progress.files}),
            "left_out": check.left_out,
            "counter": check.counter,
            "difference": check.difference,
            "reconciled": check.reconciled,
        }
    files = sorted_files([by_state[code] for code in plan.member_states])
    total = sum(exported.statements for exported in files)
    counted = sum(progress.counter or 0 for progress in by_state.values() if progress.member_state in states)
    return {
        "format": MANIFEST_FORMAT,
        "initiative": plan.initiative_id,
        "registration_number": registration_number,
        "run_id": plan.run_id,
        "started_at": plan.created_at.isoformat(),
        "completed_at": completed_at.isoformat(),
        "max_statements_per_file": plan.max_statements_per_file,
        # While collection is open, statements and counts keep arriving during a run: a small
        # difference can be in flight rather than lost. After the end, any difference is a fault.
        "collection_open": plan.collection_open,
        "reconciled": not mismatches,
        "mismatches": mismatches,
        "totals": {"statements": total, "counter": counted, "files": len(files),
                   "left_out": sum(len(progress.left_out) for progress in progresses)},
        # Statements that could not be written (exporting.member_state_export): by id and reason only.
        "left_out": [
            {"member_state": code, **statement.to_json()}
            for code in plan.member_states for statement in by_state[code].left_out
        ],
        "member_states": states,
        "files": [
            {key: value for key, value in exported.to_json().items() if key != "last"} for exported in files
        ],
    }


@dataclass(frozen=True)
class ManifestFile:
    key: str
    member_state: str
    language: str
    part: int
    statements: int
    size: int
    sha256: str
    xml_sha256: str
    context: Mapping[str, str]

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[-1]


def manifest_files(manifest: Mapping[str, Any]) -> list[ManifestFile]:
    """The files a manifest lists, checked for the fields the operator's tools rely on."""
    if manifest.get("format") != MANIFEST_FORMAT:
        raise ManifestError(f"not an export manifest (format {manifest.get('format')!r})")
    try:
        return [
            ManifestFile(
                key=str(entry["key"]),
                member_state=str(entry["member_state"]),
                language=str(entry["language"]),
                part=int(entry["part"]),
                statements=int(entry["statements"]),
                size=int(entry["bytes"]),
                sha256=str(entry["sha256"]),
                xml_sha256=str(entry["xml_sha256"]),
                context={str(k): str(v) for k, v in entry["encryption_context"].items()},
            )
            for entry in manifest["files"]
        ]
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ManifestError(f"the manifest's file list is malformed ({type(error).__name__})") from None


def reconciliation_lines(manifest: Mapping[str, Any]) -> list[str]:
    """One line per Member State for people: statements exported against the counters."""
    lines = []
    for code, state in sorted(manifest.get("member_states", {}).items()):
        counter = state.get("counter")
        mark = "ok" if state.get("reconciled") else "MISMATCH"
        left_out = f", {state['left_out']} left out" if state.get("left_out") else ""
        lines.append(
            f"{code}: {state.get('statements')} statements in {state.get('files')} file(s){left_out}; "
            f"counter {counter if counter is not None else 'none'}: {mark}"
        )
    return lines


def state_counts(manifest: Mapping[str, Any]) -> Mapping[str, int]:
    return {code: int(state["statements"]) for code, state in manifest.get("member_states", {}).items()}
