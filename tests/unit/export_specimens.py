"""Made-up statements as the export reads them, for unit tests and benchmarks (no I/O, no encryption).

The "sealed" bytes are the payload in the clear: pair these with tests.fakes.PlainOpener.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from chalicelib.exporting.ports import StoredStatement
from chalicelib.initiative import Initiative, load_initiative
from chalicelib.storage.statements import statement_bucket

DEMO_FILE = Path(__file__).resolve().parents[2] / "initiatives" / "demo.json"
SIGNING_DAY = date(2026, 11, 27)


def demo_initiative() -> Initiative:
    return load_initiative(DEMO_FILE)


def part_a(number: int) -> dict[str, str]:
    return {
        "full.first.names": f"Jürgen {number}",
        "family.names": "Großmann",
        "street": "Kastanienallee",
        "street.number": "12b",
        "postal.code": "10435",
        "city": "Berlin",
        "country": "DE",
        "date.of.birth": "1988-03-07",
    }


def part_b(number: int) -> dict[str, str]:
    return {"full.first.names": "Zofia Maria", "family.names": "Wiśniewska-Kowal", "personal.id": f"{number:011d}"}


def statement_id(number: int) -> str:
    return f"{number:08x}-0000-4000-8000-{number:012x}"


def stored(number: int, member_state: str, language: str, properties: dict[str, str] | None = None,
           annex_revision: int = 1) -> StoredStatement:
    identifier = statement_id(number)
    if properties is None:
        properties = part_b(number) if member_state in ("PL", "BE", "AT") else part_a(number)
    payload = {"v": 1, "ms": member_state, "properties": properties}
    return StoredStatement(
        member_state=member_state,
        bucket=statement_bucket(identifier),
        statement_id=identifier,
        submitted_on=SIGNING_DAY,
        form_language=language,
        annex_revision=annex_revision,
        sealed=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
    )
