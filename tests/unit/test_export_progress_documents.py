"""The plan and progress documents an export run resumes from: read back as written, older ones still
read, and a damaged one refused with a message that says which document and what is wrong."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.exporting.progress import (
    ExportedFile,
    LeftOut,
    MemberStateProgress,
    Position,
    ProgressFormatError,
    RunPlan,
)

PLAN = RunPlan("demo-2026", "2026-11-27", ("DE", "PL"), 4, datetime(2026, 11, 27, 2, 0, tzinfo=UTC), True,
               {"DE": 20, "PL": 12})
PART = ExportedFile(
    key="exports/demo-2026/2026-11-27/DE/DE-en-1.xml.enc", member_state="DE", language="en", part=1, statements=4,
    size=2048, sha256="a" * 64, xml_sha256="b" * 64, readers=("arn:aws:kms:eu-central-1:1:key/de-authority",),
    context={"purpose": "eci-export"}, last=Position(3, "7d3f"),
)
PROGRESS = MemberStateProgress("DE", files=(PART,), scanned_through=Position(3, "7d3f"),
                               left_out=(LeftOut("9a1b", "control-character"),))


def test_a_resumed_state_reads_back_its_parts_with_the_authorities_that_may_read_them() -> None:
    assert MemberStateProgress.from_json(PROGRESS.to_json()) == PROGRESS


def test_a_progress_written_before_statements_could_be_left_out_still_resumes() -> None:
    older = {key: value for key, value in PROGRESS.to_json().items() if key != "left_out"}

    assert MemberStateProgress.from_json(older).left_out == ()


def test_a_plan_written_before_counts_were_kept_at_its_start_still_resumes() -> None:
    older = {key: value for key, value in PLAN.to_json().items() if key != "counts_at_start"}

    assert RunPlan.from_json(older).member_states == ("DE", "PL")


@pytest.mark.parametrize("position", [[3], [3, 7], ["3", "7d3f"], "37"])
def test_a_damaged_position_is_reported_as_a_damaged_progress_document(position: Any) -> None:
    damaged = {**PROGRESS.to_json(), "scanned_through": position}

    with pytest.raises(ProgressFormatError, match=r"^progress document is malformed \(ProgressFormatError\)$"):
        MemberStateProgress.from_json(damaged)


def test_the_operator_is_told_which_document_is_damaged_and_how() -> None:
    with pytest.raises(ProgressFormatError, match=r"^progress format is 'eci-export-progress/0', "
                                                  r"not 'eci-export-progress/1'$"):
        MemberStateProgress.from_json({**PROGRESS.to_json(), "format": "eci-export-progress/0"})
    with pytest.raises(ProgressFormatError, match=r"^progress document is malformed \(KeyError\)$"):
        MemberStateProgress.from_json({"format": "eci-export-progress/1"})
    with pytest.raises(ProgressFormatError, match=r"^plan format is 'eci-export-plan/0', not 'eci-export-plan/1'$"):
        RunPlan.from_json({**PLAN.to_json(), "format": "eci-export-plan/0"})
    with pytest.raises(ProgressFormatError, match=r"^plan document is malformed \(KeyError\)$"):
        RunPlan.from_json({"format": "eci-export-plan/1"})
