"""Test-phase statements are keyed under a derived initiative id that the counting path counts apart."""

from __future__ import annotations

import pytest

from chalicelib.console.records import initiative_id_in_test_phase
from chalicelib.counting.stream_records import CountedChange, parse_record
from chalicelib.initiative import INITIATIVE_ID


def _insert(pk: str) -> dict[str, object]:
    return {"eventID": "e1", "eventName": "INSERT",
            "dynamodb": {"SequenceNumber": "1", "Keys": {"pk": {"S": pk}, "sk": {"S": "id-1"}}}}


def test_test_phase_statement_is_counted_for_the_derived_id() -> None:
    record = parse_record(_insert(f"S#{initiative_id_in_test_phase('demo-2026')}#PL#03"))

    assert isinstance(record, CountedChange)
    assert (record.initiative_id, record.member_state, record.delta) == ("demo-2026~test", "PL", 1)


@pytest.mark.parametrize("initiative", ["demo-2026~other", "demo~test~test", "~test"])
def test_other_suffixes_are_not_counted(initiative: str) -> None:
    assert not isinstance(parse_record(_insert(f"S#{initiative}#PL#03")), CountedChange)


def test_the_derived_id_can_never_be_another_initiatives_id() -> None:
    assert not INITIATIVE_ID.fullmatch(initiative_id_in_test_phase("demo-2026"))
