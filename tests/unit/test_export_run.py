"""An export run over in-memory fakes: parts of at most N, resume after a failure or a clean stop,
re-running is idempotent, and the manifest reconciles with the counters or says where it does not."""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.exporting import layout
from chalicelib.exporting.member_state_export import BUCKETS
from chalicelib.exporting.ports import StoredStatement
from chalicelib.exporting.retention import RetentionOverError
from chalicelib.exporting.run import ExportRun, RunNotFoundError, RunStatus, UnitBusyError
from chalicelib.signing.submit import encryption_context
from chalicelib.storage.statements import STATEMENT_BUCKETS
from tests.fakes import (
    InMemoryCounterReader,
    InMemoryExportFileStore,
    InMemoryManifestSigner,
    InMemoryStatementSource,
    PlainOpener,
    SimulatedCrash,
)
from tests.unit.export_specimens import SIGNING_DAY, demo_initiative, part_a, stored

RUN = "2026-11-27"
MOMENT = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)


def _parse(document: bytes) -> ET.Element:
    return ET.fromstring(document)  # noqa: S314 - the XML is this project's own export, in a test


def _statements() -> list[StoredStatement]:
    """40 statements: DE in en (15) and fr (5), PL in en (12), FR in fr (8)."""
    items = [stored(n, "DE", "en") for n in range(15)]
    items += [stored(n, "DE", "fr") for n in range(100, 105)]
    items += [stored(n, "PL", "en") for n in range(200, 212)]
    items += [stored(n, "FR", "fr") for n in range(300, 308)]
    return items


class World:
    def __init__(self, statements: list[StoredStatement] | None = None, counts: dict[str, int] | None = None,
                 max_per_file: int = 4, today: date = SIGNING_DAY) -> None:
        self.initiative = demo_initiative()
        self.statements = statements if statements is not None else _statements()
        self.source = InMemoryStatementSource(self.initiative.id, self.statements)
        self.opener = PlainOpener()
        self.files = InMemoryExportFileStore()
        self.counts = InMemoryCounterReader(
            counts if counts is not None else dict(Counter(item.member_state for item in self.statements))
        )
        self.clock = MOMENT
        self.signer = InMemoryManifestSigner()
        self.run = ExportRun(
            self.initiative, source=self.source, opener=lambda: self.opener, files=self.files, counts=self.counts,
            signer=lambda: self.signer, max_statements_per_file=max_per_file, now=lambda: self.clock,
            today=lambda: today,
        )

    def exported_ids(self) -> Counter[tuple[str, str, str]]:
        """(Member State, language, statement id) of every signature in every stored file."""
        found: Counter[tuple[str, str, str]] = Counter()
        for key, data in self.files.objects.items():
            root = _parse(data)
            for signature in root.iter("signature"):
                # As an authority reads it: the country from forCountry ("gr" is the EU's EL), the
                # language from the file name (OCS 5.0 has no forLanguage).
                country = root.findtext("forCountry", "").upper()
                language = key.rsplit("/", 1)[-1].split("-")[1]
                found[("EL" if country == "GR" else country, language,
                       signature.findtext("signatureIdentifier", ""))] += 1
        return found

    def expected_ids(self) -> Counter[tuple[str, str, str]]:
        return Counter((item.member_state, item.form_language, item.statement_id) for item in self.statements)


def test_bucket_count_matches_the_statement_store() -> None:
    assert BUCKETS == STATEMENT_BUCKETS


def test_every_statement_appears_once_in_its_states_file_for_its_language() -> None:
    world = World()
    manifest = world.run.run_to_end(RUN)

    assert world.exported_ids() == world.expected_ids()
    assert manifest["reconciled"] is True
    assert manifest["totals"] == {"statements": 40, "counter": 40, "files": 4 + 2 + 3 + 2, "left_out": 0}
    assert {code: state["statements"] for code, state in manifest["member_states"].items()} == {
        "DE": 20, "FR": 8, "PL": 12,
    }


def test_files_are_split_into_parts_of_at_most_n_statements() -> None:
    world = World(max_per_file=4)
    manifest = world.run.run_to_end(RUN)

    de_en = [file for file in manifest["files"] if file["member_state"] == "DE" and file["language"] == "en"]
    assert [file["statements"] for file in de_en] == [4, 4, 4, 3]
    assert [file["part"] for file in de_en] == [1, 2, 3, 4]
    assert de_en[0]["key"] == f"demo-2026/{RUN}/DE/DE-en-001.xml.enc"
    assert all(file["statements"] <= 4 for file in manifest["files"])


def test_manifest_gives_each_files_count_and_sha256_of_what_is_stored() -> None:
    world = World()
    manifest = world.run.run_to_end(RUN)

    for file in manifest["files"]:
        data = world.files.objects[file["key"]]
        assert file["sha256"] == hashlib.sha256(data).hexdigest()
        assert file["xml_sha256"] == hashlib.sha256(data).hexdigest()  # the fake store does not encrypt
        assert file["statements"] == len(_parse(data).findall("signatures/signature"))
        assert file["encryption_context"]["member_state"] == file["member_state"]
    assert world.files.documents[layout.manifest_key("demo-2026", RUN)] == manifest


def test_a_count_that_differs_is_flagged_in_the_manifest_not_hidden() -> None:
    world = World(counts={"DE": 20, "PL": 12, "FR": 9})
    manifest = world.run.run_to_end(RUN)

    assert manifest["reconciled"] is False
    assert manifest["mismatches"] == ["FR"]
    assert manifest["member_states"]["FR"] == {
        "statements": 8, "files": 2, "languages": ["fr"], "left_out": 0, "counter": 9, "difference": -1,
        "reconciled": False,
    }


def test_state_the_counters_miss_is_still_exported_and_flagged() -> None:
    world = World(counts={"DE": 20, "PL": 12})
    manifest = world.run.run_to_end(RUN)

    assert manifest["member_states"]["FR"]["statements"] == 8
    assert manifest["member_states"]["FR"]["counter"] is None
    assert manifest["mismatches"] == ["FR"]


def test_state_with_a_count_but_no_statements_shows_the_difference() -> None:
    world = World(counts={"DE": 20, "PL": 12, "FR": 8, "LU": 3})
    manifest = world.run.run_to_end(RUN)

    assert manifest["member_states"]["LU"] == {
        "statements": 0, "files": 0, "languages": [], "left_out": 0, "counter": 3, "difference": -3,
        "reconciled": False,
    }


def _counts_of_the_initiative_only(world: World, counts: dict[str, int]) -> None:
    """The counters as DynamoDB holds them: per initiative, none for any other."""
    world.counts.counts = (  # type: ignore[method-assign]
        lambda initiative_id: dict(counts) if initiative_id == world.initiative.id else {}
    )


def test_a_state_counted_once_without_its_statement_is_flagged_against_the_initiatives_counters() -> None:
    world = World()
    _counts_of_the_initiative_only(world, {"DE": 20, "PL": 12, "FR": 8, "LU": 1})

    manifest = world.run.run_to_end(RUN)

    assert manifest["member_states"]["LU"]["counter"] == 1
    assert manifest["member_states"]["LU"]["reconciled"] is False


def test_a_state_whose_count_went_back_to_zero_and_has_no_statements_is_not_in_the_export() -> None:
    world = World(counts={"DE": 20, "PL": 12, "FR": 8, "LU": 0})

    manifest = world.run.run_to_end(RUN)

    assert sorted(manifest["member_states"]) == ["DE", "FR", "PL"]


def test_parts_of_one_statement_each_are_allowed_and_none_is_refused_saying_so() -> None:
    world = World(max_per_file=1)

    assert world.run.run_to_end(RUN)["totals"]["files"] == 40
    with pytest.raises(ValueError, match=r"^max_statements_per_file must be at least 1$"):
        World(max_per_file=0)


def test_starting_a_finished_run_again_answers_complete_under_its_id() -> None:
    world = World()
    manifest = world.run.run_to_end(RUN)

    assert world.run.start(RUN) == RunStatus(RUN, (), manifest)


def test_starting_a_run_whose_states_are_all_exported_writes_its_manifest_and_answers_complete() -> None:
    world = World()
    for code in world.run.start(RUN).pending:
        assert world.run.export_unit(RUN, code)

    status = world.run.start(RUN)

    assert status == RunStatus(RUN, (), world.run.manifest(RUN))
    assert status.manifest is not None and status.manifest["totals"]["statements"] == 40


def test_starting_a_run_again_lists_only_the_states_not_yet_exported() -> None:
    world = World()
    assert world.run.start(RUN) == RunStatus(RUN, ("DE", "FR", "PL"), None)
    world.run.export_unit(RUN, "FR")

    assert world.run.start(RUN) == RunStatus(RUN, ("DE", "PL"), None)


def test_each_part_is_sealed_for_its_state_under_its_own_context_and_each_statement_opened_under_the_initiatives(
) -> None:
    # The in-memory store and opener ignore contexts; KMS does not: a wrong one fails on AWS, or the State's
    # authority cannot decrypt its part.
    world = World()
    created: list[tuple[str, dict[str, str], str]] = []
    opened: list[dict[str, str]] = []
    create, open_statement = world.files.create, world.opener.open

    def recording_create(key: str, context: Any, member_state: str) -> Any:
        created.append((key, dict(context), member_state))
        return create(key, context, member_state)

    def recording_open(sealed: bytes, expected_context: Any) -> bytes:
        opened.append(dict(expected_context))
        return open_statement(sealed, expected_context)

    world.files.create = recording_create  # type: ignore[method-assign]
    world.opener.open = recording_open  # type: ignore[method-assign]
    world.run.run_to_end(RUN)

    parts = [part for code in ("DE", "FR", "PL") for part in world.run.progress(RUN, code).files]
    assert sorted(created) == sorted(
        (part.key, layout.file_context(world.initiative.id, RUN, part.member_state, part.language, part.part),
         part.member_state) for part in parts
    )
    assert opened == [encryption_context(world.initiative.id)] * 40


def test_rerunning_a_finished_run_writes_nothing_and_returns_the_same_manifest() -> None:
    world = World()
    first = world.run.run_to_end(RUN)
    writes = dict(world.files.writes)
    opened = world.opener.opened

    second = world.run.run_to_end(RUN)

    assert second == first
    assert world.files.writes == writes
    assert world.opener.opened == opened


def test_interrupted_run_resumes_without_writing_any_statement_twice() -> None:
    world = World(max_per_file=4)
    status = world.run.start(RUN)
    assert status.pending == ("DE", "FR", "PL")
    world.files.fail_on_file(3)  # DE's third file breaks mid-upload

    with pytest.raises(SimulatedCrash):
        world.run.export_unit(RUN, "DE")

    progress = world.run.progress(RUN, "DE")
    assert not progress.complete and progress.lease_until is None  # given back at once
    kept = [file.key for file in progress.files]
    assert kept  # the parts completed before the failure are recorded ...
    opened_before = world.opener.opened

    manifest = world.run.run_to_end(RUN)

    assert world.exported_ids() == world.expected_ids()
    assert all(world.files.writes[key] == 1 for key in kept)  # ... and not written again
    assert world.opener.opened - opened_before < len(world.statements)  # recorded statements are not reopened
    assert manifest["totals"]["statements"] == 40


def test_unit_stopped_for_time_closes_its_parts_and_goes_on_where_it_stopped() -> None:
    many = [stored(n, "DE", "en" if n % 3 else "fr") for n in range(400)]
    world = World(statements=many, max_per_file=1000)
    world.run.start(RUN)
    calls = {"n": 0}

    def stop_after_first_look() -> bool:
        calls["n"] += 1
        return calls["n"] == 1

    assert world.run.export_unit(RUN, "DE", stop_after_first_look) is False
    stopped = world.run.progress(RUN, "DE")
    assert stopped.scanned_through is not None
    assert {file.language for file in stopped.files} == {"en", "fr"}  # both open parts were closed
    reads_before = world.source.reads

    assert world.run.export_unit(RUN, "DE") is True

    assert world.source.reads - reads_before == 400 - sum(file.statements for file in stopped.files)
    assert world.exported_ids() == world.expected_ids()
    manifest = world.run.finish(RUN)
    assert manifest is not None
    assert [file["part"] for file in manifest["files"] if file["language"] == "en"] == [1, 2]


def test_second_worker_on_the_same_state_is_refused_while_the_first_holds_it() -> None:
    world = World()
    world.run.start(RUN)
    progress = world.run.progress(RUN, "DE")
    from dataclasses import replace
    from datetime import timedelta

    world.files.write_json(layout.progress_key("demo-2026", RUN, "DE"),
                           replace(progress, lease_until=MOMENT + timedelta(minutes=5)).to_json())

    with pytest.raises(UnitBusyError):
        world.run.export_unit(RUN, "DE")
    world.clock = MOMENT + timedelta(minutes=6)  # the lease ran out: the worker died
    assert world.run.export_unit(RUN, "DE") is True


def test_finishing_a_finished_run_again_signs_nothing_and_rewrites_nothing() -> None:
    # Two workers may both finish: the authority's manifest and its signature must not change under it.
    world = World()
    first = world.run.run_to_end(RUN)
    writes, signed = dict(world.files.writes), world.signer.calls

    assert world.run.finish(RUN) == first
    assert world.files.writes == writes
    assert world.signer.calls == signed


def test_an_initiative_without_statements_gets_a_manifest_completed_when_planned() -> None:
    world = World(statements=[])

    manifest = world.run.run_to_end(RUN)

    assert manifest["member_states"] == {} and manifest["totals"]["statements"] == 0
    assert manifest["completed_at"] == MOMENT.isoformat()


def test_the_operator_asking_for_a_run_never_started_is_told_which_run_and_initiative() -> None:
    world = World()
    told = f"no export run '{RUN}' was started for {world.initiative.id}"

    with pytest.raises(RunNotFoundError, match=f"^{told}$"):
        world.run.export_unit(RUN, "DE")
    with pytest.raises(RunNotFoundError, match=f"^{told}$"):
        world.run.finish(RUN)


def test_a_state_not_in_the_plan_is_refused_naming_the_state_and_the_run() -> None:
    world = World()
    world.run.start(RUN)

    with pytest.raises(ValueError, match=f"^AT is not in the plan of run {RUN}$"):
        world.run.export_unit(RUN, "AT")


def test_the_manifest_reconciles_with_the_counters_of_the_initiative_exported() -> None:
    world = World()
    counted = dict(world.counts.values)
    _counts_of_the_initiative_only(world, counted)

    manifest = world.run.run_to_end(RUN)

    assert {code: state["counter"] for code, state in manifest["member_states"].items()} == counted
    assert manifest["reconciled"] is True


def test_plan_is_kept_when_a_run_is_started_again() -> None:
    world = World()
    world.run.start(RUN)
    plan = world.files.documents[layout.plan_key("demo-2026", RUN)]
    world.statements.append(stored(999, "AT", "en"))

    world.run.start(RUN)

    assert world.files.documents[layout.plan_key("demo-2026", RUN)] == plan


def test_no_export_once_the_retention_period_has_ended() -> None:
    world = World(today=date(2028, 6, 1))  # 21 months after 2026-09-01

    with pytest.raises(RetentionOverError, match=r"^the retention period of demo-2026 ended on 2028-06-01"):
        world.run.start(RUN)


def test_statement_sealed_for_another_state_is_left_out_naming_only_its_id() -> None:
    from dataclasses import replace

    wrong = replace(stored(1, "DE", "en"), member_state="AT")
    world = World(statements=[wrong, stored(2, "AT", "de")], counts={"AT": 2})

    manifest = world.run.run_to_end(RUN)

    assert manifest["left_out"] == [
        {"member_state": "AT", "statement_id": wrong.statement_id, "reason": "unreadable-payload"}]
    assert manifest["member_states"]["AT"]["statements"] == 1
    assert "Großmann" not in json.dumps(manifest)


@pytest.mark.parametrize("payload", [
    pytest.param(b"not json", id="not-json"),
    pytest.param(b'["v", 1]', id="a-list"),
    pytest.param(b'{"v": 0, "ms": "AT", "properties": {}}', id="another-version"),
    pytest.param(b'{"v": 1, "ms": "AT", "properties": ["Eva"]}', id="properties-a-list"),
    pytest.param(b'{"v": 1, "ms": "AT", "properties": {"family.names": 7}}', id="a-property-a-number"),
])
def test_a_statement_whose_payload_cannot_be_read_is_left_out_and_the_state_still_exported(payload: bytes) -> None:
    from dataclasses import replace

    unreadable = replace(stored(1, "AT", "de"), sealed=payload)
    world = World(statements=[unreadable, stored(2, "AT", "de")], counts={"AT": 2})

    manifest = world.run.run_to_end(RUN)

    assert manifest["left_out"] == [
        {"member_state": "AT", "statement_id": unreadable.statement_id, "reason": "unreadable-payload"}]
    assert manifest["member_states"]["AT"]["statements"] == 1


@pytest.mark.parametrize(("field", "value", "reason"), [
    ("postal.code", "104\x0135", "control-character"),
    ("personal.id", "\uffff", "control-character"),
    ("favourite.colour", "blue", "unknown-property"),
])
def test_one_unwritable_statement_is_left_out_by_id_and_the_run_completes_for_the_rest(
    field: str, value: str, reason: str, caplog: pytest.LogCaptureFixture,
) -> None:
    statements = _statements()
    bad = stored(999, "DE", "en", properties={"full.first.names": "Eva",
                                                "family.names": "Schmidt", field: value})
    world = World(statements=[*statements, bad])

    manifest = world.run.run_to_end(RUN)

    assert manifest["left_out"] == [{"member_state": "DE", "statement_id": bad.statement_id, "reason": reason}]
    assert manifest["member_states"]["DE"]["left_out"] == 1
    assert manifest["totals"]["left_out"] == 1
    # Every other statement is exported, once; the counted one left out still accounts for the counter.
    assert world.exported_ids() == world.expected_ids() - Counter({("DE", "en", bad.statement_id): 1})
    assert manifest["reconciled"] is True
    assert world.run.signature(RUN) is not None
    # Named by id and reason, never by content: not in the manifest, not in the log.
    for text in (json.dumps(manifest, ensure_ascii=False), caplog.text):
        assert value not in text and "Schmidt" not in text and "Eva" not in text
    assert bad.statement_id in caplog.text
    assert f"export run={RUN} state=DE: statement {bad.statement_id} left out ({reason})" in [
        record.getMessage() for record in caplog.records
    ]


def test_a_statement_left_out_before_a_crash_is_listed_once_after_the_resume() -> None:
    statements = [stored(n, "DE", "en") for n in range(12)]
    bad = stored(50, "DE", "en", properties={"full.first.names": "Eva", "family.names": "S\x02"})
    world = World(statements=[*statements, bad], max_per_file=3)
    world.files.fail_on_file(3)
    with pytest.raises(SimulatedCrash):
        world.run.run_to_end(RUN)

    manifest = world.run.run_to_end(RUN)

    assert [entry["statement_id"] for entry in manifest["left_out"]] == [bad.statement_id]
    assert world.exported_ids() == world.expected_ids() - Counter({("DE", "en", bad.statement_id): 1})


def test_run_ids_are_checked_and_name_no_person() -> None:
    with pytest.raises(layout.RunIdError):
        layout.check_run_id("../other")
    assert layout.scheduled_run_id(date(2026, 11, 27)) == "2026-11-27"
    assert layout.on_demand_run_id(datetime(2026, 11, 27, 14, 3, 9, tzinfo=UTC)) == "2026-11-27T14-03-09Z"


def _keys(manifest: dict[str, Any]) -> list[str]:
    return [file["key"] for file in manifest["files"]]


def test_every_path_names_initiative_run_and_member_state() -> None:
    manifest = World().run.run_to_end(RUN)

    for file in manifest["files"]:
        initiative, run_id, code, name = file["key"].split("/")
        assert (initiative, run_id, code) == ("demo-2026", RUN, file["member_state"])
        assert name.startswith(f"{code}-")


_STORED_TEXT = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=12)


@settings(max_examples=150, deadline=None)
@given(values=st.lists(st.tuples(st.sampled_from(["family.names", "city", "postal.code", "street"]), _STORED_TEXT),
                       min_size=1, max_size=12))
def test_whatever_is_stored_every_statement_is_either_exported_exactly_or_listed_as_left_out(
    values: list[tuple[str, str]],
) -> None:
    statements = [stored(number, "DE", "en", properties={**part_a(number), field: value})
                  for number, (field, value) in enumerate(values)]
    world = World(statements=statements, max_per_file=5)

    manifest = world.run.run_to_end(RUN)

    left_out = {entry["statement_id"] for entry in manifest["left_out"]}
    exported: dict[str, dict[str, str]] = {}
    for data in world.files.objects.values():
        for signature in _parse(data).iter("signature"):
            exported[signature.findtext("signatureIdentifier", "")] = {
                p.findtext("key", "").removeprefix("oct.property."): p.findtext("value", "")
                for p in signature.iter("property")}
    assert set(exported) | left_out == {item.statement_id for item in statements}
    assert not set(exported) & left_out
    for number, (field, value) in enumerate(values):
        identifier = statements[number].statement_id
        if identifier in exported:
            assert exported[identifier][field] == value
    assert manifest["reconciled"] is True
