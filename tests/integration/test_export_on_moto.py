"""Export on moto: sign statements with the real store and KMS, export, decrypt with the operator's tool.

Each test uses its own initiative id, so moto's shared state never mixes tests.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from chalicelib import config
from chalicelib.config import PROJECT_ROOT, Settings
from chalicelib.exporting import layout
from chalicelib.initiative import Initiative
from chalicelib.jobs import Jobs
from chalicelib.signing.id_numbers import postcode_as_written
from chalicelib.signing.ports import StatementRecord
from chalicelib.signing.statement import PersonalData
from chalicelib.signing.submit import encryption_context
from chalicelib.storage.clients import AwsClients
from chalicelib.storage.encryption import KmsStatementSealer
from chalicelib.storage.statements import DynamoDBStatementStore
from tests.fakes import SimulatedCrash
from tests.integration.conftest import write_counts
from tests.unit.export_specimens import DEMO_FILE, demo_initiative

SCHEMA = Path(__file__).resolve().parents[2] / "chalicelib" / "exporting" / "support_form.xsd"
SIGNING_DAY = date(2026, 11, 27)
NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)


def _parse(document: bytes) -> ET.Element:
    return ET.fromstring(document)  # noqa: S314 - the XML is this project's own export, in a test


def _person(code: str, number: int) -> PersonalData:
    if code == "PL":
        return PersonalData("PL", f"Zofia {number}", "Wiśniewska & <Kowal>", id_type="national.id.number",
                            id_number=f"{44051401359 + number}")
    return PersonalData(code, f"Jürgen {number}", "Großmann \"Ğ\"", street="Kastanienallee", street_number="12b",
                        postal_code="10435", city="Berlin", country=code, date_of_birth=date(1988, 3, 7))


def _as_exported(properties: dict[str, str]) -> dict[str, str]:
    """What the authority reads for a statement: every value as signed, the postal code as its post writes it
    (a Greek resident's "10435" is "104 35")."""
    exported = {f"oct.property.{key}": value for key, value in properties.items() if value}
    if "postal.code" in properties:
        exported["oct.property.postal.code"] = postcode_as_written(properties["country"], properties["postal.code"])
    return exported


@dataclass
class Signed:
    member_state: str
    language: str
    properties: dict[str, str]


@pytest.fixture(scope="module")
def export_clients(aws_settings: Settings) -> AwsClients:
    clients = AwsClients(aws_settings)
    _ = clients.s3  # before the encryption SDK wraps the session (see chalicelib.jobs.Jobs.clients)
    return clients


@pytest.fixture(scope="module")
def sealer(aws_settings: Settings, export_clients: AwsClients) -> KmsStatementSealer:
    return KmsStatementSealer(aws_settings.statements_key, export_clients.botocore_session, 300, 1000)


@dataclass
class World:
    settings: Settings
    clients: AwsClients
    initiative: Initiative
    sealer: KmsStatementSealer
    signed: dict[str, Signed]

    def sign(self, code: str, language: str, count: int, start: int = 0) -> None:
        store = DynamoDBStatementStore(self.clients.dynamodb, self.settings.statements_table)
        for number in range(start, start + count):
            person = _person(code, number)
            statement_id = str(uuid.uuid4())
            record = StatementRecord(self.initiative.id, code, statement_id, SIGNING_DAY, language, 1,
                                     self.sealer.seal(person.to_payload(), encryption_context(self.initiative.id)))
            assert store.add(record, uuid.uuid4().hex)
            self.signed[statement_id] = Signed(code, language, person.properties())

    def set_counts(self, counts: dict[str, int]) -> None:
        write_counts(self.clients.dynamodb, self.settings.counters_table, self.initiative.id, counts)

    def jobs(self, **settings: Any) -> Jobs:
        return Jobs(replace(self.settings, **settings), self.initiative, today=lambda: SIGNING_DAY,
                    now=lambda: NOW, aws=self.clients)

    def versions(self) -> Counter[str]:
        found: Counter[str] = Counter()
        pages = self.clients.s3.get_paginator("list_object_versions").paginate(
            Bucket=self.settings.export_bucket, Prefix=f"{self.initiative.id}/")
        for page in pages:
            for version in page.get("Versions", []):
                found[version["Key"]] += 1
        return found


def _new_world(settings: Settings, clients: AwsClients, sealer: KmsStatementSealer, **changes: Any) -> World:
    initiative = replace(demo_initiative(), id=f"exp-{uuid.uuid4().hex[:10]}")
    configured = replace(settings, export_fan_out="in-process", export_max_statements_per_file=5, **changes)
    return World(configured, clients, initiative, sealer, {})


def _three_states(world: World) -> None:
    world.sign("DE", "en", 8)
    world.sign("DE", "fr", 3, start=50)
    world.sign("PL", "en", 7)
    world.sign("FR", "fr", 6)
    world.sign("EL", "el", 4, start=70)
    world.set_counts({"DE": 11, "PL": 7, "FR": 7, "EL": 4})  # FR's counter is one too many: the manifest says so


@dataclass
class Exported:
    world: World
    authority_private_pem: bytes
    cli_output: str


@pytest.fixture(scope="module")
def exported(aws_settings: Settings, export_clients: AwsClients, sealer: KmsStatementSealer,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exported]:
    """One signed initiative (DE in en and fr, PL, FR, EL), exported once by the operator's `run` as run r1.

    PL's authority has a key of its own; parts hold at most 5 statements. Moto is slow: the tests below
    share this run and only read it.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    folder = tmp_path_factory.mktemp("exported")
    private = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    keys_dir = folder / "authority-keys"
    keys_dir.mkdir()
    (keys_dir / "PL.pem").write_bytes(private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    world = _new_world(aws_settings, export_clients, sealer, authority_keys_dir=keys_dir)
    _three_states(world)
    with pytest.MonkeyPatch.context() as patch:
        _point_cli_at(world, folder, patch)
        status, out, errors = _cli("run", "--run-id", "r1")
        # FR's counter differs: the run completes, and says so with its own exit status.
        assert (status, errors) == (3, "error: the export and the counters differ for FR (collection was open: "
                                       "counts may have moved)\n")
        yield Exported(world, private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()), out)
    config._process_fixed_today.cache_clear()  # ECI_TODAY is the caller's again


def _point_cli_at(world: World, folder: Path, patch: pytest.MonkeyPatch) -> None:
    """The CLI reads the initiative from INITIATIVE_FILE: one with this world's initiative id."""
    data = json.loads(DEMO_FILE.read_text(encoding="utf-8"))
    data["id"] = world.initiative.id
    path = folder / "initiative.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    patch.setenv("INITIATIVE_FILE", str(path))
    patch.setenv("EXPORT_FAN_OUT", "in-process")
    patch.setenv("EXPORT_MAX_STATEMENTS_PER_FILE", "5")
    patch.setenv("AUTHORITY_KEYS_DIR", str(world.settings.authority_keys_dir))
    patch.setenv("ECI_OPERATOR_COPIES", str(folder / "copies.json"))  # the register of copies, not in $HOME
    # The tool's day is the world's, not the calendar's: after the demo's collection (2027-08-31) its
    # manifests stopped saying collection was open, and after its retention (2028-06-01) it exported nothing.
    patch.setenv("ECI_TODAY", SIGNING_DAY.isoformat())
    config._process_fixed_today.cache_clear()


@pytest.fixture
def cli_world(exported: Exported, tmp_path: Path) -> Iterator[World]:
    with pytest.MonkeyPatch.context() as patch:
        _point_cli_at(exported.world, tmp_path, patch)
        yield exported.world
    config._process_fixed_today.cache_clear()


def _cli(*args: str) -> tuple[int, str, str]:
    from chalicelib import operator_cli

    out = io.StringIO()
    errors = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stderr", errors)
        status = operator_cli.main(list(args), out=out)
    return status, out.getvalue(), errors.getvalue()


def _read_xml(path: Path, initiative: Initiative) -> Iterator[tuple[str, str, str, dict[str, str]]]:
    """A file read as a national authority's tooling reads OCS 5.0's: schema, header, the name's country."""
    from lxml import etree

    schema = etree.XMLSchema(etree.parse(str(SCHEMA)))
    document = path.read_bytes()
    assert schema.validate(etree.fromstring(document)), schema.error_log
    root = _parse(document)
    country = root.findtext("forCountry", "")
    assert path.name[:2] == country.upper()  # OCS's validator: the file name starts with forCountry
    assert root.findtext("initiativeData/registrationNumber") == initiative.registration_number
    assert root.findtext("initiativeData/startOfTheCollectionPeriod") == initiative.collection_start.isoformat()
    assert root.findtext("initiativeData/endOfTheCollectionPeriod") == initiative.collection_end.isoformat()
    assert root.findtext("initiativeData/urlOnCommissionRegister") == initiative.commission_register_url
    language = path.name.split("-")[1]  # OCS 5.0 has no forLanguage: the language is in our file name
    for signature in root.iter("signature"):
        properties = {p.findtext("key", ""): p.findtext("value", "") for p in signature.iter("property")}
        assert date.fromisoformat(signature.findtext("submissionDate", "")) == SIGNING_DAY
        yield ("EL" if country == "gr" else country.upper(), language,
               signature.findtext("signatureIdentifier", ""), properties)


def _manifest(world: World, run_id: str = "r1") -> dict[str, Any]:
    manifest = world.jobs().run.manifest(run_id)
    assert manifest is not None
    return manifest


def test_person_signs_for_four_states_exports_and_gets_verified_decrypted_xml(
    exported: Exported, cli_world: World, tmp_path: Path
) -> None:
    world = cli_world
    assert "run r1: 28 statements in 8 files" in exported.cli_output

    status, out, errors = _cli("list")
    assert status == 0 and "r1  complete  28 statements in 8 files, 4 Member States" in out

    status, out, errors = _cli("download", "r1", "--to", str(tmp_path / "exports"))
    assert status == 3, errors  # the counters differ for FR: said again, with the same status
    run_dir = tmp_path / "exports" / "r1"
    assert sorted(path.name for path in run_dir.iterdir()) == [
        "DE", "DESTROY-BEFORE-2028-06-01.txt", "EL", "FR", "PL", "manifest.json", "manifest.signature.json"]
    assert sorted(path.name for path in (run_dir / "EL").iterdir()) == ["GR-el-001.xml.enc"]

    # An authority is given the public key once, and checks the run offline with it.
    status, out, errors = _cli("public-key", "--to", str(tmp_path / "exporter.pem"))
    assert status == 0, errors
    status, out, errors = _cli("verify", str(run_dir), "--public-key", str(tmp_path / "exporter.pem"))
    assert (status, out) == (0, "the manifest's signature holds, and all 8 files match its SHA-256\n"), errors
    status, out, errors = _cli("verify", str(run_dir))  # the operator: the public key from KMS
    assert status == 0, errors

    status, out, errors = _cli("decrypt", str(run_dir))
    assert status == 0, errors
    xml_files = [Path(line) for line in out.splitlines()]
    assert len(xml_files) == 8 and all(path.suffix == ".xml" for path in xml_files)

    seen: Counter[str] = Counter()
    for path in xml_files:
        for code, language, identifier, properties in _read_xml(path, world.initiative):
            signed = world.signed[identifier]
            assert (code, language) == (signed.member_state, signed.language)
            assert path.parent.name == code
            assert properties == _as_exported(signed.properties)
            seen[identifier] += 1
    assert seen == Counter(dict.fromkeys(world.signed, 1))  # every acknowledged statement, exactly once


def test_a_forged_or_unsigned_manifest_is_refused_even_with_matching_hashes(
    exported: Exported, cli_world: World, tmp_path: Path
) -> None:
    from chalicelib.exporting.manifest_signature import manifest_bytes, sign_manifest
    from tests.fakes import InMemoryManifestSigner

    assert _cli("download", "r1", "--to", str(tmp_path))[0] == 3
    run_dir = tmp_path / "r1"
    assert _cli("public-key", "--to", str(tmp_path / "exporter.pem"))[0] == 0
    public_key = str(tmp_path / "exporter.pem")
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    signature = (run_dir / "manifest.signature.json").read_text(encoding="utf-8")

    # Altered: a count changed after signing (every file still matches its hash).
    altered = {**manifest, "mismatches": [], "reconciled": True}
    (run_dir / "manifest.json").write_bytes(manifest_bytes(altered))
    status, out, errors = _cli("verify", str(run_dir), "--public-key", public_key)
    assert (status, out, errors) == (1, "", "error: the manifest was altered after it was signed (its SHA-256 or "
                                            "run differs from the signed one)\n")

    # Forged: the same manifest, signed by someone else's key.
    forged = sign_manifest(altered, InMemoryManifestSigner(key_id=world_key(cli_world)))
    (run_dir / "manifest.signature.json").write_text(json.dumps(forged), encoding="utf-8")
    status, out, errors = _cli("verify", str(run_dir), "--public-key", public_key)
    assert (status, errors) == (1, "error: the manifest's signature does not hold for this public key: it was "
                                   "forged, or signed by another key\n")
    status, out, errors = _cli("decrypt", str(run_dir))
    assert status == 1 and errors.startswith("error: the manifest's signature does not hold")
    assert not list(run_dir.glob("*/*.xml"))

    # Unsigned.
    (run_dir / "manifest.signature.json").unlink()
    status, out, errors = _cli("verify", str(run_dir), "--public-key", public_key)
    assert (status, errors) == (1, "error: the manifest is not signed (no manifest.signature.json): it cannot be "
                                   "shown to come from the exporter\n")

    # The original, as signed, still holds.
    (run_dir / "manifest.json").write_bytes(manifest_bytes(manifest))
    (run_dir / "manifest.signature.json").write_text(signature, encoding="utf-8")
    assert _cli("verify", str(run_dir), "--public-key", public_key)[0] == 0


def world_key(world: World) -> str:
    """The ARN the stage's signing key has: a forger can name it, which proves nothing."""
    return world.settings.export_signing_key


def test_counts_that_differ_are_flagged_in_the_manifest_and_by_the_tool(exported: Exported) -> None:
    manifest = _manifest(exported.world)

    assert manifest["reconciled"] is False and manifest["mismatches"] == ["FR"]
    assert manifest["member_states"]["FR"]["difference"] == -1
    assert manifest["member_states"]["DE"]["reconciled"] is True
    assert "FR: 6 statements in 2 file(s); counter 7: MISMATCH" in exported.cli_output
    assert manifest["left_out"] == []


def test_the_organisers_dashboard_reads_the_runs_totals_and_reconciliation_without_the_export_key(
    exported: Exported,
) -> None:
    from chalicelib.storage.console_table import DynamoDBHealthRecords

    world = exported.world
    manifest = _manifest(world)
    [run] = DynamoDBHealthRecords(world.clients.dynamodb, world.settings.console_table).export_runs(
        world.initiative.id, 10)

    assert (run.run_id, run.status, run.completed_at) == ("r1", "complete", manifest["completed_at"])
    assert {code: (state.statements, state.counter) for code, state in run.member_states.items()} == {
        code: (state["statements"], state["counter"]) for code, state in manifest["member_states"].items()}
    assert run.reconciled is False and run.mismatches == ["FR"]
    assert (run.statements, run.counted) == (manifest["totals"]["statements"], manifest["totals"]["counter"])


def test_files_are_encrypted_with_sse_kms_under_a_path_naming_initiative_run_and_state(exported: Exported) -> None:
    world = exported.world
    for file in _manifest(world)["files"]:
        assert file["key"].startswith(f"{world.initiative.id}/r1/{file['member_state']}/")
        head = world.clients.s3.head_object(Bucket=world.settings.export_bucket, Key=file["key"])
        assert head["ServerSideEncryption"] == "aws:kms"
        body = world.clients.s3.get_object(Bucket=world.settings.export_bucket, Key=file["key"])["Body"].read()
        assert b"Kastanienallee" not in body and b"<supportForm>" not in body
        assert file["readers"][0] == f"kms:{world.settings.export_key}"


def test_parts_hold_at_most_n_statements(exported: Exported) -> None:
    parts: dict[tuple[str, str], list[int]] = {}
    for file in _manifest(exported.world)["files"]:
        parts.setdefault((file["member_state"], file["language"]), []).append(file["statements"])

    assert parts == {("DE", "en"): [5, 3], ("DE", "fr"): [3], ("EL", "el"): [4], ("FR", "fr"): [5, 1],
                     ("PL", "en"): [5, 2]}


def test_rerunning_a_run_id_writes_nothing_new(exported: Exported) -> None:
    world = exported.world
    first = _manifest(world)
    versions = world.versions()

    second = world.jobs(authority_keys_dir=world.settings.authority_keys_dir).start_export("r1").manifest

    assert second == first
    assert world.versions() == versions


def test_authority_key_is_a_second_reader_of_its_states_files_only(exported: Exported, tmp_path: Path) -> None:
    from chalicelib.storage.export_reading import ExportBucketReader, ExportKey, WrongKeyError, decrypt_file

    world = exported.world
    reader = ExportBucketReader(world.clients.s3, world.settings.export_bucket)
    authority = ExportKey.rsa_private(exported.authority_private_pem)
    operators = ExportKey.kms(world.settings.export_key, world.clients.botocore_session)

    for file in _manifest(world)["files"]:
        encrypted = tmp_path / file["key"].replace("/", "_")
        reader.download(file["key"], encrypted)
        target = tmp_path / (encrypted.name + ".xml")
        decrypt_file(encrypted, target, operators, file["encryption_context"])  # the operators read all
        if file["member_state"] == "PL":
            assert len(file["readers"]) == 2 and file["readers"][1].startswith("rsa:")
            decrypt_file(encrypted, target, authority, file["encryption_context"])
            assert b"<forCountry>pl</forCountry>" in target.read_bytes()
        else:
            assert len(file["readers"]) == 1
            with pytest.raises(WrongKeyError):
                decrypt_file(encrypted, tmp_path / "no.xml", authority)
            assert not (tmp_path / "no.xml").exists()


def test_authority_decrypts_offline_with_the_tool_and_its_private_key(exported: Exported, cli_world: World,
                                                                     tmp_path: Path) -> None:
    assert _cli("download", "r1", "--to", str(tmp_path))[0] == 3
    key_file = tmp_path / "authority.pem"
    key_file.write_bytes(exported.authority_private_pem)
    pl_file = sorted((tmp_path / "r1" / "PL").iterdir())[0]

    status, out, errors = _cli("decrypt", str(pl_file), "--private-key", str(key_file))

    assert status == 0, errors
    assert out.strip().endswith("PL-en-001.xml")


def test_operator_sees_a_tampered_file_a_wrong_key_and_a_missing_run_as_one_clear_line(
    exported: Exported, cli_world: World, tmp_path: Path
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    world = cli_world
    assert _cli("download", "r1", "--to", str(tmp_path))[0] == 3
    run_dir = tmp_path / "r1"
    victim = sorted((run_dir / "PL").iterdir())[0]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.write_bytes(bytes(data))

    status, _, errors = _cli("verify", str(run_dir))
    assert status == 1
    assert errors == ("error: 1 of 8 file(s) do not match the manifest's SHA-256 (altered or damaged): "
                      f"{victim.name}\n")

    status, _, errors = _cli("decrypt", str(victim))
    assert (status, errors) == (1, f"error: {victim.name} does not match the manifest's SHA-256: it was altered "
                                   "or damaged\n")

    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file = tmp_path / "stranger.pem"
    key_file.write_bytes(stranger.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()))
    intact = sorted((run_dir / "DE").iterdir())[0]
    assert _cli("public-key", "--to", str(tmp_path / "exporter.pem"))[0] == 0
    status, _, errors = _cli("decrypt", str(intact), "--private-key", str(key_file),
                             "--public-key", str(tmp_path / "exporter.pem"))
    assert status == 1 and errors.endswith(f"is not one of the readers of {intact.name}\n")
    assert errors.startswith("error: authority key rsa-") and errors.count("\n") == 1

    status, _, errors = _cli("download", "no-such-run", "--to", str(tmp_path))
    assert status == 1 and "there is no export run 'no-such-run'" in errors and "Traceback" not in errors

    # The same tampering in the bucket itself: `verify RUN` reads S3. The original goes back after.
    key = layout.file_key(world.initiative.id, "r1", "FR", "fr", 1)
    bucket = world.settings.export_bucket
    original = world.clients.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    world.clients.s3.put_object(Bucket=bucket, Key=key, Body=b"not the export")
    try:
        status, _, errors = _cli("verify", "r1")
        assert status == 1 and "FR-fr-001.xml.enc" in errors
    finally:
        world.clients.s3.put_object(Bucket=bucket, Key=key, Body=original)


class BreakingFiles:
    """Wraps the S3 store: the file with the given name fails in the middle of its upload."""

    def __init__(self, inner: Any, name: str) -> None:
        self._inner = inner
        self._name = name

    def create(self, key: str, context: Any, member_state: str) -> Any:
        created = self._inner.create(key, context, member_state)
        if key.endswith(self._name):
            def broken(data: bytes) -> None:
                raise SimulatedCrash("connection lost")
            created.write = broken
        return created

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_interrupted_run_resumes_and_exports_each_statement_once(
    aws_settings: Settings, export_clients: AwsClients, sealer: KmsStatementSealer
) -> None:
    world = _new_world(aws_settings, export_clients, sealer)
    world.sign("DE", "en", 8)
    world.sign("DE", "fr", 2, start=50)
    world.set_counts({"DE": 10})
    jobs = world.jobs()
    jobs.run._files = BreakingFiles(jobs.files, "DE-en-002.xml.enc")
    with pytest.raises(SimulatedCrash):
        jobs.start_export("r1")
    kept = {file.key for file in jobs.run.progress("r1", "DE").files}
    assert layout.file_key(world.initiative.id, "r1", "DE", "en", 1) in kept

    manifest = world.jobs().start_export("r1").manifest

    assert manifest is not None and manifest["reconciled"] is True
    assert manifest["totals"]["statements"] == 10
    versions = world.versions()
    assert all(versions[key] == 1 for key in kept)  # the finished part was not written again
    assert sum(file["statements"] for file in manifest["files"]) == len(world.signed)


def test_the_operators_run_is_in_the_organisers_audit_log_naming_the_operators_aws_identity(
    exported: Exported, aws_settings: Settings, export_clients: AwsClients
) -> None:
    from chalicelib.storage.console_table import DynamoDBConsoleStore

    entries = DynamoDBConsoleStore(export_clients.dynamodb, aws_settings.console_table).entries(
        exported.world.initiative.id)
    identity = export_clients.sts.get_caller_identity()["Arn"]
    assert [(entry.action, entry.actor, entry.role, dict(entry.details)) for entry in entries] == [
        ("export_started", identity, "operator", {"run_id": "r1", "via": "operator"})]


def test_a_run_started_from_the_console_on_the_local_system_exports_while_the_page_answers(
    aws_settings: Settings, export_clients: AwsClients, sealer: KmsStatementSealer
) -> None:
    import time

    from chalicelib.console.records import RunStarter

    world = _new_world(aws_settings, export_clients, sealer)
    world.sign("DE", "en", 6)
    world.sign("PL", "en", 3)
    world.set_counts({"DE": 6, "PL": 3})
    jobs = world.jobs()

    answer = jobs.start_for_console(RunStarter("sub-organiser-1", "organiser", "console"))

    assert answer["member_states"] == 2
    deadline = time.monotonic() + 120
    while (manifest := jobs.run.manifest(answer["run_id"])) is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert manifest is not None and manifest["reconciled"] is True
    assert manifest["totals"]["statements"] == 9


def test_bucket_expires_what_the_clock_allows_and_aborts_broken_uploads(aws_settings: Settings,
                                                                       export_clients: AwsClients) -> None:
    rules = export_clients.s3.get_bucket_lifecycle_configuration(Bucket=aws_settings.export_bucket)["Rules"]
    by_id = {rule["ID"]: rule for rule in rules}

    assert by_id["backstop-longest-retention"]["Expiration"]["Days"] == 642
    assert by_id["abort-interrupted-uploads"]["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 1


def test_a_damaged_file_without_a_manifest_is_one_line_not_the_sdks_traceback(
    exported: Exported, cli_world: World, tmp_path: Path
) -> None:
    assert _cli("download", "r1", "--to", str(tmp_path))[0] == 3
    lone = tmp_path / "lone" / "x"
    lone.mkdir(parents=True)
    damaged = lone / "PL-en-001.xml.enc"
    data = bytearray(sorted((tmp_path / "r1" / "PL").iterdir())[0].read_bytes())
    data[len(data) // 2] ^= 0x01  # inside a frame: the encryption SDK's stream fails while reading
    damaged.write_bytes(bytes(data))
    key_file = tmp_path / "authority.pem"
    key_file.write_bytes(exported.authority_private_pem)

    # In a process of its own, as an operator runs it: pytest's log capture would hide what the encryption
    # SDK's logger prints on a terminal.
    command = [sys.executable, "-m", "chalicelib.operator_cli", "decrypt", str(damaged), "--private-key", str(key_file)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120,  # noqa: S603
                          check=False)
    status, out, errors = done.returncode, done.stdout, done.stderr

    assert (status, out) == (1, "")
    assert errors == ("warning: no manifest beside PL-en-001.xml.enc: its hash and place are not checked\n"
                      "error: PL-en-001.xml.enc is damaged or was altered (InvalidTag)\n")


def test_a_wrong_key_in_the_operators_own_process_is_one_line_not_the_sdks_traceback(
    exported: Exported, cli_world: World, tmp_path: Path
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    assert _cli("download", "r1", "--to", str(tmp_path))[0] == 3
    intact = sorted((tmp_path / "r1" / "PL").iterdir())[0]
    stranger = tmp_path / "stranger.pem"
    stranger.write_bytes(rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))

    # A process of its own, as the operator runs it (see the damaged file's test above).
    command = [sys.executable, "-m", "chalicelib.operator_cli", "decrypt", str(intact), "--private-key", str(stranger)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120,  # noqa: S603
                          check=False)

    assert (done.returncode, done.stdout) == (1, "")
    [warning, error] = done.stderr.splitlines()
    assert warning == "warning: the manifest's signature is not checked: give --public-key PEM to check it"
    assert error.startswith("error: authority key rsa-")
    assert error.endswith(f"is not one of the readers of {intact.name}")
    assert not intact.with_name("PL-en-001.xml").exists()


def test_decrypting_a_run_folder_goes_on_past_bad_files_and_names_each_at_the_end(
    exported: Exported, cli_world: World, tmp_path: Path
) -> None:
    assert _cli("download", "r1", "--to", str(tmp_path))[0] == 3
    run_dir = tmp_path / "r1"
    (run_dir / "DE" / "DE-fr-001.xml.enc").unlink()
    damaged = run_dir / "FR" / "FR-fr-002.xml.enc"
    damaged.write_bytes(damaged.read_bytes()[:-10])

    status, out, errors = _cli("decrypt", str(run_dir))

    assert status == 1
    assert errors == ("6 plaintext file(s) recorded: destroy them before 2028-06-01 (`destroy-copies`)\n"
                      "error: 2 of 8 file(s) could not be decrypted: DE-fr-001.xml.enc is missing; "
                      "FR-fr-002.xml.enc does not match the manifest's SHA-256: it was altered or damaged\n")
    assert len(out.splitlines()) == 6  # every other file was decrypted
    assert all(Path(line).is_file() for line in out.splitlines())


def test_running_an_existing_run_id_says_nothing_new_was_written(exported: Exported, cli_world: World) -> None:
    versions = cli_world.versions()

    status, out, _ = _cli("run", "--run-id", "r1")

    assert status == 3  # the run's counts still differ for FR
    assert out.splitlines()[0] == "run r1 was already complete: nothing new was written (28 statements in 8 files)"
    assert cli_world.versions() == versions


def test_a_statement_that_cannot_be_written_is_left_out_and_the_tool_says_which(
    aws_settings: Settings, export_clients: AwsClients, sealer: KmsStatementSealer, tmp_path: Path
) -> None:
    world = _new_world(aws_settings, export_clients, sealer)
    world.sign("DE", "en", 3)
    store = DynamoDBStatementStore(world.clients.dynamodb, world.settings.statements_table)
    # As issue #11 found it: a postal code with a control character, stored with a receipt.
    person = replace(_person("DE", 9), postal_code="\x01")
    bad_id = str(uuid.uuid4())
    assert store.add(StatementRecord(world.initiative.id, "DE", bad_id, SIGNING_DAY, "en", 2, world.sealer.seal(
        person.to_payload(), encryption_context(world.initiative.id))), uuid.uuid4().hex)
    world.set_counts({"DE": 4})
    with pytest.MonkeyPatch.context() as patch:
        _point_cli_at(world, tmp_path, patch)
        status, out, errors = _cli("run", "--run-id", "r1")
    config._process_fixed_today.cache_clear()

    assert status == 4
    assert errors == f"error: 1 statement(s) could not be exported and are left out of the files: DE {bad_id} " \
                     "(control-character)\n"
    assert "DE: 3 statements in 1 file(s), 1 left out; counter 4: ok" in out
    manifest = _manifest(world)
    assert manifest["left_out"] == [{"member_state": "DE", "statement_id": bad_id, "reason": "control-character"}]
    assert world.jobs().run.signature("r1") is not None


def test_of_two_workers_that_read_one_progress_document_only_one_writes_it(
    aws_settings: Settings, export_clients: AwsClients, sealer: KmsStatementSealer
) -> None:
    # S3's conditional writes as moto serves them (If-Match / If-None-Match), which the export's lease
    # rests on (tests/unit/test_export_unit_lease.py drives the race itself).
    from chalicelib.exporting.ports import ConcurrentWriteError

    files = _new_world(aws_settings, export_clients, sealer).jobs().files
    key = f"lease-{uuid.uuid4().hex}/progress/DE.json"

    assert files.read_json_version(key) == (None, None)
    first = files.replace_json(key, {"worker": "first"}, None)
    with pytest.raises(ConcurrentWriteError):  # the second also saw no document
        files.replace_json(key, {"worker": "second"}, None)
    document, version = files.read_json_version(key)
    assert (document, version) == ({"worker": "first"}, first)
    again = files.replace_json(key, {"worker": "first", "saved": 2}, version)
    with pytest.raises(ConcurrentWriteError):  # a save from the version before
        files.replace_json(key, {"worker": "second"}, first)
    assert files.read_json_version(key) == ({"worker": "first", "saved": 2}, again)


# As four citizens type them into their forms (the Greek one in Greek, the French one in French).
CITIZENS_AT_THE_FORM = {
    ("PL", "pl"): {"full_first_names": "Zofia Maria", "family_names": "Wiśniewska-Kowal", "id_number": "44051401359",
                   "privacy_accepted": "yes"},
    ("DE", "de"): {"full_first_names": "Jürgen", "family_names": "Großmann", "street": "Kastanienallee",
                   "street_number": "12b", "postal_code": "10435", "city": "Berlin", "country": "DE",
                   "date_of_birth_day": "7", "date_of_birth_month": "3", "date_of_birth_year": "1988",
                   "privacy_accepted": "yes"},
    ("EL", "el"): {"full_first_names": "Ελένη", "family_names": "Παπαδοπούλου", "street": "Αθηνάς",
                   "street_number": "1", "postal_code": "10557", "city": "Αθήνα", "country": "GR",
                   "date_of_birth_day": "2", "date_of_birth_month": "3", "date_of_birth_year": "1970",
                   "privacy_accepted": "yes"},
    ("FR", "fr"): {"full_first_names": "Zoë", "family_names": "Lefèvre", "street": "rue de Rivoli",
                   "street_number": "8", "postal_code": "75001", "city": "Paris", "country": "FR",
                   "date_of_birth_day": "31", "date_of_birth_month": "12", "date_of_birth_year": "1999",
                   "privacy_accepted": "yes"},
}
# What each State's authority reads for them: the OCS 5.0 keys, the postal code as the post writes it.
AS_THE_AUTHORITY_READS_THEM = {
    "PL": {"oct.property.full.first.names": "Zofia Maria", "oct.property.family.names": "Wiśniewska-Kowal",
           "oct.property.national.id.number": "44051401359"},  # the PESEL
    "DE": {"oct.property.full.first.names": "Jürgen", "oct.property.family.names": "Großmann",
           "oct.property.date.of.birth": "1988-03-07", "oct.property.street": "Kastanienallee",
           "oct.property.street.number": "12b", "oct.property.postal.code": "10435", "oct.property.city": "Berlin",
           "oct.property.country": "DE"},
    "EL": {"oct.property.full.first.names": "Ελένη", "oct.property.family.names": "Παπαδοπούλου",
           "oct.property.date.of.birth": "1970-03-02", "oct.property.street": "Αθηνάς",
           "oct.property.street.number": "1", "oct.property.postal.code": "105 57", "oct.property.city": "Αθήνα",
           "oct.property.country": "GR"},
    "FR": {"oct.property.full.first.names": "Zoë", "oct.property.family.names": "Lefèvre",
           "oct.property.date.of.birth": "1999-12-31", "oct.property.street": "rue de Rivoli",
           "oct.property.street.number": "8", "oct.property.postal.code": "75001", "oct.property.city": "Paris",
           "oct.property.country": "FR"},
}


def _sign_at_the_form(world: World) -> dict[str, tuple[str, str]]:
    """Each citizen signs through the app's form (chalice's test client); returns receipt id -> (State, language)."""
    import re
    from urllib.parse import urlencode

    from chalice.test import Client

    import app as app_module
    from chalicelib import services

    receipts = {}
    services.use(services.Services(world.settings, world.initiative, today=lambda: SIGNING_DAY))
    try:
        with Client(app_module.app) as client:
            for (code, language), fields in CITIZENS_AT_THE_FORM.items():
                form = client.http.get(f"/sign/{code}?lang={language}")
                token = re.search(rb'name="form_token" value="([^"]+)"', form.body)
                assert token, f"the {code} form carries a token"
                body = urlencode({"form_token": token.group(1).decode(), "lang": language, "homepage": "", **fields})
                receipt = client.http.post(f"/sign/{code}?lang={language}", body=body,
                                           headers={"content-type": "application/x-www-form-urlencoded"})
                assert receipt.status_code == 200, receipt.body[:400]
                statement_id = re.search(rb"<code>(\d{4}-\d{2}-\d{2}-[0-9a-f-]{36})</code>", receipt.body)
                assert statement_id, f"the {code} receipt shows the statement identifier"
                receipts[statement_id.group(1).decode()] = (code, language)
    finally:
        services.use(None)
    return receipts


def test_citizens_sign_at_their_forms_and_each_authority_reads_exactly_that_in_a_verified_file(
    aws_settings: Settings, export_clients: AwsClients, sealer: KmsStatementSealer, tmp_path: Path
) -> None:
    world = _new_world(aws_settings, export_clients, sealer)
    receipts = _sign_at_the_form(world)
    world.set_counts({code: 1 for code, _ in CITIZENS_AT_THE_FORM})

    with pytest.MonkeyPatch.context() as patch:
        _point_cli_at(world, tmp_path, patch)
        assert _cli("run", "--run-id", "r1")[:2] == (0, "run r1: 4 statements in 4 files\n"
                                                        "  DE: 1 statements in 1 file(s); counter 1: ok\n"
                                                        "  EL: 1 statements in 1 file(s); counter 1: ok\n"
                                                        "  FR: 1 statements in 1 file(s); counter 1: ok\n"
                                                        "  PL: 1 statements in 1 file(s); counter 1: ok\n")
        status, _, errors = _cli("download", "r1", "--to", str(tmp_path / "exports"))
        assert status == 0, errors
        run_dir = tmp_path / "exports" / "r1"
        assert _cli("public-key", "--to", str(tmp_path / "exporter.pem"))[0] == 0
        status, out, errors = _cli("verify", str(run_dir), "--public-key", str(tmp_path / "exporter.pem"))
        assert (status, out) == (0, "the manifest's signature holds, and all 4 files match its SHA-256\n"), errors
        status, out, errors = _cli("decrypt", str(run_dir))
        assert status == 0, errors

    files = sorted(Path(line) for line in out.splitlines())
    assert [f"{path.parent.name}/{path.name}" for path in files] == [
        "DE/DE-de-001.xml", "EL/GR-el-001.xml", "FR/FR-fr-001.xml", "PL/PL-pl-001.xml"]
    read: dict[str, tuple[str, str]] = {}
    for path in files:
        root = _parse(path.read_bytes())
        assert [revision.text for revision in root.iter("annexRevision")] == ["2"]  # the 2019/788 Annex III
        title = world.initiative.text(path.name.split("-")[1])[0].title
        assert root.findtext("initiativeData/title") == title  # in the language of the form signed
        for code, language, identifier, properties in _read_xml(path, world.initiative):
            assert properties == AS_THE_AUTHORITY_READS_THEM[code]
            read[identifier] = (code, language)
    assert read == receipts  # every receipt, in its State's file of its language, once
