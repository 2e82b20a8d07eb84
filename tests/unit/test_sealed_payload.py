"""What the signing seals is what the export reads: the payload's format is a contract between the two.

The export tests build their payloads by hand (tests/unit/export_specimens.py), and only moto tests sealed
a real citizen's statement and exported it; here the signing's own payload goes through the export's own
reader, for a citizen of each Annex III part.
"""

from __future__ import annotations

from datetime import date

import pytest

from chalicelib.exporting.member_state_export import ExportDataError, signature_of
from chalicelib.exporting.ports import StoredStatement
from chalicelib.signing.statement import PersonalData

SIGNED = date(2026, 11, 27)
CITIZENS = {
    "part-a": PersonalData("DE", "Jürgen", "Großmann", street="Kastanienallee", street_number="12b",
                           postal_code="10435", city="Berlin", country="DE", date_of_birth=date(1988, 3, 7)),
    "part-b": PersonalData("PL", "Zofia Maria", "Wiśniewska-Kowal", id_type="national.id.number",
                           id_number="44051401359"),
}


def _stored(personal_data: PersonalData, member_state: str | None = None) -> StoredStatement:
    return StoredStatement(member_state=member_state or personal_data.member_state, bucket=0,
                           statement_id="0a1b2c3d-0000-4000-8000-000000000001", submitted_on=SIGNED,
                           form_language="en", annex_revision=1, sealed=b"")


@pytest.mark.parametrize("citizen", sorted(CITIZENS))
def test_authority_gets_every_field_the_citizen_signed_with(citizen: str) -> None:
    personal_data = CITIZENS[citizen]

    signature = signature_of(_stored(personal_data), personal_data.to_payload())

    assert dict(signature.properties) == personal_data.properties()
    assert signature.identifier == "0a1b2c3d-0000-4000-8000-000000000001" and signature.submission_date == SIGNED


def test_a_statement_filed_under_another_member_state_is_refused_by_the_export() -> None:
    polish = CITIZENS["part-b"]

    with pytest.raises(ExportDataError, match="another Member State"):
        signature_of(_stored(polish, member_state="CZ"), polish.to_payload())
