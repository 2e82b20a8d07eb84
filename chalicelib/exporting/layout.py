"""Where an export run's objects go in the export bucket, and what a run id may be.

Every key starts with the initiative id, then the run id, then (for files) the Member State:
``{initiative}/{run}/{MS}/{CC}-{language}-{part}.xml.enc``, where CC is the country code OCS writes in
forCountry, in capitals ("GR" for EL): OCS names its files so, and its export validator checks that a
file's first two letters are its forCountry. Keys name no person.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from chalicelib.exporting.support_form import ocs_country

RUN_ID = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,63}")
FILE_SUFFIX = ".xml.enc"
PLAN_NAME = "plan.json"
MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "manifest.signature.json"
PROGRESS_FOLDER = "progress"


class RunIdError(ValueError):
    pass


def check_run_id(run_id: str) -> str:
    if not RUN_ID.fullmatch(run_id):
        raise RunIdError(f"a run id is 1 to 64 letters, digits, '.', '_' or '-', not {run_id!r}")
    return run_id


def scheduled_run_id(day: date) -> str:
    """The daily run's id: one per day, so a second trigger on the same day resumes rather than repeats."""
    return day.isoformat()


def on_demand_run_id(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H-%M-%SZ")


def initiative_prefix(initiative_id: str) -> str:
    return f"{initiative_id}/"


def run_prefix(initiative_id: str, run_id: str) -> str:
    return f"{initiative_id}/{check_run_id(run_id)}/"


def plan_key(initiative_id: str, run_id: str) -> str:
    return run_prefix(initiative_id, run_id) + PLAN_NAME


def manifest_key(initiative_id: str, run_id: str) -> str:
    return run_prefix(initiative_id, run_id) + MANIFEST_NAME


def signature_key(initiative_id: str, run_id: str) -> str:
    return run_prefix(initiative_id, run_id) + SIGNATURE_NAME


def progress_key(initiative_id: str, run_id: str, member_state: str) -> str:
    return f"{run_prefix(initiative_id, run_id)}{PROGRESS_FOLDER}/{member_state}.json"


def file_name(member_state: str, language: str, part: int) -> str:
    return f"{ocs_country(member_state).upper()}-{language}-{part:03d}{FILE_SUFFIX}"


def file_key(initiative_id: str, run_id: str, member_state: str, language: str, part: int) -> str:
    return f"{run_prefix(initiative_id, run_id)}{member_state}/{file_name(member_state, language, part)}"


def file_context(initiative_id: str, run_id: str, member_state: str, language: str, part: int) -> dict[str, str]:
    """The encryption context of an export file: it binds the file to its place, and names no person."""
    return {
        "purpose": "eci-export",
        "initiative": initiative_id,
        "run": run_id,
        "member_state": member_state,
        "language": language,
        "part": str(part),
    }
