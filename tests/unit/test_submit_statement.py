"""One statement from a valid form to the store, over in-memory fakes: what is stored, under which keys."""

from __future__ import annotations

import logging

import pytest

from chalicelib.signing.fingerprint import fingerprint
from chalicelib.signing.submit import submit_statement
from tests.fakes import InMemoryStatementStore, ReversibleSealer
from tests.unit.export_specimens import demo_initiative
from tests.unit.submissions import RESIDENCE_COUNTRIES, TODAY, check, spec, valid_submission

KEY = bytes(range(32))


def test_a_citizens_statement_is_stored_sealed_under_its_initiative_state_language_and_day() -> None:
    store, sealer = InMemoryStatementStore(), ReversibleSealer()
    submitted = valid_submission("PL")

    result = submit_statement(initiative=demo_initiative(), spec=spec("PL"), submitted=submitted, form_language="pl",
                              today=TODAY, residence_countries=RESIDENCE_COUNTRIES, fingerprint_key=KEY,
                              sealer=sealer, store=store, new_statement_id=lambda day: "statement-1")

    assert result.receipt is not None and (result.receipt.statement_id, result.receipt.submitted_on) == (
        "statement-1", TODAY)
    [record] = store.statements.values()
    assert (record.initiative_id, record.member_state, record.statement_id, record.submitted_on,
            record.form_language, record.annex_revision) == (
        "demo-2026", "PL", "statement-1", TODAY, "pl", demo_initiative().annex_revision)
    opened = ReversibleSealer.open(record.sealed)
    assert opened["context"] == {"purpose": "eci-statement", "initiative": "demo-2026"}
    personal_data = check("PL", submitted).personal_data
    assert personal_data is not None
    assert opened["payload"] == {"v": 1, "ms": "PL", "properties": personal_data.properties()}
    assert store.fingerprints == {f"demo-2026#{fingerprint(KEY, 'demo-2026', personal_data)}": "statement-1"}


def test_a_form_with_errors_stores_nothing_and_seals_nothing() -> None:
    store, sealer = InMemoryStatementStore(), ReversibleSealer()

    result = submit_statement(initiative=demo_initiative(), spec=spec("PL"),
                              submitted=valid_submission("PL", id_number="44051401358"), form_language="pl",
                              today=TODAY, residence_countries=RESIDENCE_COUNTRIES, fingerprint_key=KEY,
                              sealer=sealer, store=store)

    assert result.receipt is None and [error.field for error in result.validation.errors] == ["id_number"]
    assert store.statements == {} and sealer.calls == 0


def test_an_operator_sees_which_states_form_was_refused_and_how_many_fields_and_nothing_typed(
        caplog: pytest.LogCaptureFixture) -> None:
    submitted = valid_submission("PL", id_number="44051401358", family_names="Nowak-Kowalska")
    caplog.set_level(logging.INFO, logger="chalicelib.signing.submit")

    submit_statement(initiative=demo_initiative(), spec=spec("PL"), submitted=submitted, form_language="pl",
                     today=TODAY, residence_countries=RESIDENCE_COUNTRIES, fingerprint_key=KEY,
                     sealer=ReversibleSealer(), store=InMemoryStatementStore())

    assert caplog.messages == ["statement for PL not valid: 1 field errors"]
    assert "44051401358" not in caplog.text and "Nowak" not in caplog.text


def test_an_operator_sees_a_statement_received_for_its_state_and_nothing_typed(
        caplog: pytest.LogCaptureFixture) -> None:
    submitted = valid_submission("PL", family_names="Nowak-Kowalska")
    caplog.set_level(logging.INFO, logger="chalicelib.signing.submit")

    submit_statement(initiative=demo_initiative(), spec=spec("PL"), submitted=submitted, form_language="pl",
                     today=TODAY, residence_countries=RESIDENCE_COUNTRIES, fingerprint_key=KEY,
                     sealer=ReversibleSealer(), store=InMemoryStatementStore())

    assert caplog.messages == ["statement for PL received"]
    assert "Nowak" not in caplog.text and submitted["id_number"] not in caplog.text
