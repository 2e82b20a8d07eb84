"""One statement of support, from a validated form to a durable write: validate, fingerprint, seal, store.

Pure orchestration over the ports in signing.ports, so it is tested with in-memory fakes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date

from chalicelib.initiative import Initiative
from chalicelib.signing.fingerprint import fingerprint
from chalicelib.signing.form import FormSpec
from chalicelib.signing.ports import StatementRecord, StatementSealer, StatementStore
from chalicelib.signing.statement_id import new_statement_id as dated_statement_id
from chalicelib.signing.validate import ValidationResult, validate

logger = logging.getLogger(__name__)

STATEMENT_CONTEXT_PURPOSE = "eci-statement"


@dataclass(frozen=True)
class Receipt:
    statement_id: str
    submitted_on: date


@dataclass(frozen=True)
class SubmitResult:
    validation: ValidationResult
    receipt: Receipt | None  # set when the form was valid


def encryption_context(initiative_id: str) -> dict[str, str]:
    """Stored in plaintext inside every sealed statement: so it names no person, only the initiative.

    The Member State is not in it: one cached data key then serves all 27 forms.
    """
    return {"purpose": STATEMENT_CONTEXT_PURPOSE, "initiative": initiative_id}


def submit_statement(
    *,
    initiative: Initiative,
    spec: FormSpec,
    submitted: Mapping[str, str],
    form_language: str,
    today: date,
    residence_countries: frozenset[str],
    fingerprint_key: bytes,
    sealer: StatementSealer,
    store: StatementStore,
    new_statement_id: Callable[[date], str] = dated_statement_id,
) -> SubmitResult:
    """Validate and, if valid, store a statement. The caller checks the collection period first.

    A second statement by the same person gets a receipt of the same shape as the first, but is
    neither stored nor counted: the response must not reveal to anyone that this person had signed.
    """
    validation = validate(spec, submitted, today, residence_countries)
    if validation.personal_data is None:
        logger.info("statement for %s not valid: %d field errors", spec.member_state.code, len(validation.errors))
        return SubmitResult(validation, None)
    personal_data = validation.personal_data
    record = StatementRecord(
        initiative_id=initiative.id,
        member_state=spec.member_state.code,
        statement_id=new_statement_id(today),
        submitted_on=today,
        form_language=form_language,
        annex_revision=initiative.annex_revision,
        sealed=sealer.seal(personal_data.to_payload(), encryption_context(initiative.id)),
    )
    stored = store.add(record, fingerprint(fingerprint_key, initiative.id, personal_data))
    # Codes and counts only: a log line must never carry what the citizen typed.
    logger.info("statement for %s received (stored: %s)", record.member_state, stored)
    return SubmitResult(validation, Receipt(record.statement_id, today))
