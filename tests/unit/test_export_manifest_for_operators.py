"""What the operator's tool reads back from a run's manifest: the files to fetch and check, and one line per State.

test_export_run.py checks the manifest the run writes; these read it as operator_cli does, with the
exporting code's own readers (manifest_files, reconciliation_lines), so a manifest the tool cannot read
fails here rather than on the operator's machine.
"""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.exporting import layout
from chalicelib.exporting.manifest import (
    MANIFEST_FORMAT,
    ManifestError,
    build_manifest,
    manifest_files,
    reconciliation_lines,
    state_counts,
)
from tests.unit.test_export_run import MOMENT, RUN, World


def test_the_operator_finds_every_file_of_the_run_with_what_checks_it() -> None:
    world = World()
    manifest = world.run.run_to_end(RUN)

    files = manifest_files(manifest)

    assert sorted(file.key for file in files) == sorted(world.files.objects)
    for file in files:
        data = world.files.objects[file.key]
        assert file.name == file.key.rsplit("/", 1)[-1]
        assert (file.size, file.sha256) == (len(data), hashlib.sha256(data).hexdigest())
        # What `decrypt` checks the XML against once decrypted (this fake store keeps the XML itself).
        assert file.xml_sha256 == hashlib.sha256(data).hexdigest()
        # The context the file is encrypted under binds it to its place: a file copied to another run,
        # State or language does not decrypt as that one (written out: the key policies name it).
        assert file.context == {"purpose": "eci-export", "initiative": "demo-2026", "run": RUN,
                                "member_state": file.member_state, "language": file.language, "part": str(file.part)}
        assert file.key == layout.file_key("demo-2026", RUN, file.member_state, file.language, file.part)
    assert sum(file.statements for file in files) == 40
    assert state_counts(manifest) == {"DE": 20, "PL": 12, "FR": 8}


def test_the_operator_reads_one_line_per_state_saying_whether_it_reconciles() -> None:
    manifest = World(counts={"DE": 20, "PL": 12, "FR": 9}).run.run_to_end(RUN)

    assert reconciliation_lines(manifest) == [
        "DE: 20 statements in 6 file(s); counter 20: ok",
        "FR: 8 statements in 2 file(s); counter 9: MISMATCH",
        "PL: 12 statements in 3 file(s); counter 12: ok",
    ]
    assert reconciliation_lines(World(counts={"DE": 20, "PL": 12}).run.run_to_end(RUN))[1] == (
        "FR: 8 statements in 2 file(s); counter none: MISMATCH")


def test_the_manifest_names_the_initiative_the_run_and_when_it_ran() -> None:
    world = World()
    world.run.start(RUN)
    world.clock = MOMENT + timedelta(minutes=5)
    manifest = world.run.run_to_end(RUN)

    assert {key: manifest[key] for key in ("format", "initiative", "registration_number", "run_id", "started_at",
                                           "completed_at", "max_statements_per_file", "collection_open")} == {
        "format": MANIFEST_FORMAT, "initiative": "demo-2026", "registration_number": "ECI(2026)000042",
        "run_id": RUN, "started_at": MOMENT.isoformat(), "completed_at": (MOMENT + timedelta(minutes=5)).isoformat(),
        "max_statements_per_file": 4, "collection_open": True,
    }
    assert {key: manifest["totals"][key] for key in ("statements", "counter", "files")} == {
        "statements": 40, "counter": 40, "files": 11}
    assert all("last" not in file for file in manifest["files"])  # where the run was is not the operator's


@pytest.mark.parametrize(("document", "problem"), [
    ({"format": "eci-export-manifest/0", "files": []}, r"not an export manifest \(format 'eci-export-manifest/0'\)"),
    ({"format": MANIFEST_FORMAT, "files": [{"key": "k"}]}, r"file list is malformed \(KeyError\)"),
], ids=["other-format", "file-without-its-fields"])
def test_a_document_that_is_not_a_readable_manifest_is_refused_saying_why(
        document: dict[str, Any], problem: str) -> None:
    with pytest.raises(ManifestError, match=problem):
        manifest_files(document)


def test_the_operator_reads_how_many_statements_a_state_left_out() -> None:
    manifest = {"member_states": {"DE": {"statements": 19, "files": 6, "left_out": 1, "counter": 20,
                                         "reconciled": True}}}

    assert reconciliation_lines(manifest) == ["DE: 19 statements in 6 file(s), 1 left out; counter 20: ok"]
    assert reconciliation_lines({}) == [] and state_counts({}) == {}


def test_a_run_with_a_state_still_exporting_gets_no_manifest_and_the_operator_reads_which_state() -> None:
    world = World()
    world.run.run_to_end(RUN)
    plan = world.run.plan(RUN)
    assert plan is not None
    progresses = [world.run.progress(RUN, code) for code in plan.member_states]
    unfinished = [dataclasses.replace(progress, complete=progress.member_state != "PL") for progress in progresses]

    with pytest.raises(ManifestError, match=r"^the run is not complete: \['PL'\] still to export$"):
        build_manifest(plan, unfinished, "ECI(2026)000042", MOMENT)


def test_the_manifest_total_counter_adds_nothing_for_a_state_the_counters_do_not_hold() -> None:
    manifest = World(counts={"DE": 20, "PL": 12}).run.run_to_end(RUN)

    assert manifest["member_states"]["FR"]["counter"] is None
    assert (manifest["totals"]["statements"], manifest["totals"]["counter"]) == (40, 32)
