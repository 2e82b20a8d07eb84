"""The export's throughput, memory and KMS calls: decrypt + XML + encrypt, per core.

Three measurements, each printed with what it covers:

* **End to end on moto** (10,000 statements; about two minutes, most of it moto's Python):
  statements sealed with the real sealer and written to the statements table, then the export as
  the worker runs it (DynamoDB Query, KMS, the encryption SDK, S3 multipart upload) in this
  process; moto runs in another, so its CPU is not counted.
  Also the KMS calls of the run against the distinct data keys the statements were sealed under.
* **Fake store, with decryption** (10,000, 100,000 and 1,000,000): the same pipeline
  (exporting.member_state_export over the real S3-side EncryptedFile, a raw AES key in place of KMS,
  output hashed and dropped), fed by a generator of sealed statements, in a fresh process each so
  its peak memory (ru_maxrss) is its own. The million takes several minutes of CPU: the encryption
  SDK's decryption in Python is most of the cost per statement.
* **Fake store, 1,000,000 without decryption**: what XML and file encryption alone cost, to show
  where the time goes.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from bench import BenchError, Figure, progress
from chalicelib.config import Settings
from chalicelib.exporting.ports import ManifestSigner
from tests.fakes import InMemoryExportFileStore

E2E_STATEMENTS = 10_000
FAKE_SIZES = (10_000, 100_000, 1_000_000)
FLAT_MEMORY_SIZE = 1_000_000
SEALED_POOL = 1_000  # distinct sealed messages the fake store cycles through
SEAL_MESSAGES_PER_DATA_KEY = 1_000  # so the 10,000 statements of the moto run use 10 data keys
STATES = ("DE", "FR", "PL")
LANGUAGES = ("en", "fr")
PART_SIZE = 100_000


def _properties(code: str, number: int) -> dict[str, str]:
    if code == "PL":
        return {"full.first.names": "Zofia Maria", "family.names": "Wiśniewska-Kowal",
                "national.id.number": f"{44051401359 + number}"}
    return {"full.first.names": f"Jürgen {number}", "family.names": "Großmann & Söhne", "street": "Kastanienallee",
            "street.number": "12b", "postal.code": "10435", "city": "Berlin", "country": code,
            "date.of.birth": "1988-03-07"}


def _payload(code: str, number: int) -> bytes:
    document = {"v": 1, "ms": code, "properties": _properties(code, number)}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# --- the child process: one fake-store run --------------------------------------------------------------


class _RawKeyOpener:
    """KmsStatementOpener's work with a raw AES key: the same SDK decrypt, with a caching manager."""

    def __init__(self, key: Any) -> None:
        import aws_encryption_sdk as sdk

        self._client = sdk.EncryptionSDKClient(commitment_policy=sdk.CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT,
                                               max_encrypted_data_keys=1)
        self._materials = sdk.CachingCryptoMaterialsManager(
            master_key_provider=key, cache=sdk.LocalCryptoMaterialsCache(capacity=1000), max_age=3600.0)

    def open(self, sealed: bytes, expected_context: Mapping[str, str]) -> bytes:
        plaintext, header = self._client.decrypt(source=sealed, materials_manager=self._materials)
        if any(header.encryption_context.get(name) != value for name, value in expected_context.items()):
            raise BenchError("encryption context differs")
        return bytes(plaintext)


class _PassThroughOpener:
    def open(self, sealed: bytes, expected_context: Mapping[str, str]) -> bytes:
        return sealed


class _NullUpload:
    """Where S3Upload would send parts: hashed and counted, then dropped."""

    def __init__(self) -> None:
        import hashlib

        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self._hash.update(data)
        self.size += len(data)

    def close(self) -> tuple[int, str]:
        return self.size, self._hash.hexdigest()

    def abort(self) -> None:
        pass


class _NullFiles(InMemoryExportFileStore):
    """ExportFileStore: the real EncryptedFile (encryption SDK, frame by frame) into a null upload; the
    run's JSON documents in memory, as the tests keep them."""

    def __init__(self, key: Any) -> None:
        import aws_encryption_sdk as sdk

        super().__init__()
        self._client = sdk.EncryptionSDKClient(commitment_policy=sdk.CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT,
                                               max_encrypted_data_keys=3)
        self._key = key
        self.bytes = 0

    def create(self, key: str, context: Mapping[str, str], member_state: str) -> Any:
        from chalicelib.storage.export_files import EncryptedFile

        return EncryptedFile(self._client, self._key, context, _NullUpload(), ("raw",))  # type: ignore[arg-type]


class _GeneratedSource:
    """StatementSource generating statements on the fly: nothing is held but the one being read."""

    def __init__(self, initiative_id: str, total: int, pool: list[bytes] | None) -> None:
        self._initiative = initiative_id
        self._total = total
        self._pool = pool

    def statements(self, initiative_id: str, member_state: str, bucket: int, after: str | None = None) -> Iterator[Any]:
        from chalicelib.exporting.ports import StoredStatement

        if member_state != "DE" or bucket != 0 or after is not None:
            return
        for number in range(self._total):
            sealed = self._pool[number % len(self._pool)] if self._pool else _payload("DE", number)
            yield StoredStatement("DE", 0, f"{number:012d}", date(2026, 11, 27), LANGUAGES[number % 2], 1, sealed)

    def member_states_with_statements(self, initiative_id: str, candidates: Any) -> frozenset[str]:
        return frozenset({"DE"})


def _raw_key() -> Any:
    from aws_encryption_sdk.identifiers import EncryptionKeyType, WrappingAlgorithm
    from aws_encryption_sdk.internal.crypto.wrapping_keys import WrappingKey
    from aws_encryption_sdk.key_providers.raw import RawMasterKey

    return RawMasterKey(provider_id="bench", key_id=b"bench", wrapping_key=WrappingKey(
        wrapping_algorithm=WrappingAlgorithm.AES_256_GCM_IV12_TAG16_NO_PADDING, wrapping_key=os.urandom(32),
        wrapping_key_type=EncryptionKeyType.SYMMETRIC))


def child(total: int, decrypt: bool) -> dict[str, float]:
    """One fake-store export of `total` statements; returns what the parent prints."""
    import aws_encryption_sdk as sdk

    from chalicelib.exporting.member_state_export import export_member_state
    from chalicelib.exporting.progress import MemberStateProgress
    from chalicelib.signing.submit import encryption_context
    from tests.unit.export_specimens import demo_initiative

    initiative = demo_initiative()
    key = _raw_key()
    pool = None
    opener: Any = _PassThroughOpener()
    if decrypt:
        client = sdk.EncryptionSDKClient(commitment_policy=sdk.CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
        materials = sdk.CachingCryptoMaterialsManager(master_key_provider=key, cache=sdk.LocalCryptoMaterialsCache(8),
                                                      max_age=3600.0, max_messages_encrypted=10**6)
        pool = [client.encrypt(source=_payload("DE", number), materials_manager=materials,
                               encryption_context=encryption_context(initiative.id),
                               algorithm=sdk.Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY)[0]
                for number in range(SEALED_POOL)]
        opener = _RawKeyOpener(key)
    files = _NullFiles(key)
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.process_time()
    progress_after, finished = export_member_state(
        initiative, "bench", MemberStateProgress("DE"), max_statements_per_file=PART_SIZE,
        source=_GeneratedSource(initiative.id, total, pool), opener=opener, files=files,
        save=lambda updated: None)
    cpu = time.process_time() - started
    if not finished or progress_after.exported != total:
        raise BenchError(f"exported {progress_after.exported} of {total}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"statements": total, "cpu_seconds": cpu, "peak_rss_mb": peak / 1024, "baseline_rss_mb": baseline / 1024,
            "files": len(progress_after.files)}


def _run_children(runs: list[tuple[int, bool]]) -> list[dict[str, float]]:
    """Fake-store runs side by side, one process each (the machine has two cores; each run's CPU
    time is its own process's, so running them together does not change the per-core figure)."""
    started = []
    for total, decrypt in runs:
        command = [sys.executable, "-m", "bench.export_throughput", str(total), "decrypt" if decrypt else "plain"]
        # Our own interpreter and module, fixed arguments: no shell, no outside input.
        started.append(subprocess.Popen(  # noqa: S603
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = []
    for (total, _decrypt), process in zip(runs, started, strict=True):
        out, errors = process.communicate(timeout=900)
        if process.returncode != 0:
            raise BenchError(f"fake-store run of {total} failed: {errors.strip().splitlines()[-1:]}")
        results.append(json.loads(out))
    return results


# --- end to end on moto ------------------------------------------------------------------------------


class _OperationCounter:
    """API calls per (service, operation) of every client made from the session after this is attached."""

    def __init__(self, session: Any) -> None:
        self.operations: Counter[tuple[str, str]] = Counter()
        session.register("before-call", self._count)

    def _count(self, event_name: str, **_: Any) -> None:
        _before, service, operation = event_name.split(".", 2)
        self.operations[(service, operation)] += 1


def _seal_and_store(settings: Settings, initiative_id: str) -> int:
    """Seal E2E_STATEMENTS statements and write them as the store does (markers left out: the export
    never reads them); returns the number of data keys the sealer made (its GenerateDataKey calls)."""
    from chalicelib.signing.submit import encryption_context
    from chalicelib.storage.clients import AwsClients
    from chalicelib.storage.encryption import KmsStatementSealer
    from chalicelib.storage.statements import statement_key

    clients = AwsClients(settings)
    counter = _OperationCounter(clients.botocore_session)
    sealer = KmsStatementSealer(settings.statements_key, clients.botocore_session, max_age_seconds=3600,
                                max_messages=SEAL_MESSAGES_PER_DATA_KEY)
    context = encryption_context(initiative_id)
    batch: list[Any] = []
    for number in range(E2E_STATEMENTS):
        code = STATES[number % len(STATES)]
        statement_id = str(uuid.UUID(int=number + 1, version=4))
        key = statement_key(initiative_id, code, statement_id)
        batch.append({"PutRequest": {"Item": {
            "pk": {"S": key.pk}, "sk": {"S": key.sk}, "initiative_id": {"S": initiative_id},
            "member_state": {"S": code}, "statement_id": {"S": statement_id}, "submitted_on": {"S": "2026-11-27"},
            "form_language": {"S": LANGUAGES[number % 2]}, "annex_revision": {"N": "1"},
            "sealed": {"B": sealer.seal(_payload(code, number), context)},
        }}})
        if len(batch) == 25 or number == E2E_STATEMENTS - 1:
            pending: Any = {settings.statements_table: batch}
            while pending:
                pending = clients.dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            batch = []
    return counter.operations[("kms", "GenerateDataKey")]


class _TimedSigner:
    """The run's manifest signer, timed: what proof of origin adds to a run, against the run in the same process."""

    def __init__(self, inner: ManifestSigner, seconds: list[float]) -> None:
        self._inner = inner
        self._seconds = seconds
        self.key_id = inner.key_id

    def sign(self, message: bytes) -> bytes:
        started = time.perf_counter()
        try:
            return self._inner.sign(message)
        finally:
            self._seconds.append(time.perf_counter() - started)


def end_to_end(settings: Settings) -> list[Figure]:
    from chalicelib.jobs import Jobs
    from chalicelib.storage.clients import AwsClients
    from tests.unit.export_specimens import demo_initiative

    signing_seconds: list[float] = []

    class TimedSigningJobs(Jobs):
        def manifest_signer(self) -> ManifestSigner:
            return _TimedSigner(super().manifest_signer(), signing_seconds)

    initiative = replace(demo_initiative(), id=f"bench-export-{uuid.uuid4().hex[:8]}")
    progress(f"export end to end: sealing and storing {E2E_STATEMENTS} statements on moto")
    data_keys = _seal_and_store(settings, initiative.id)
    clients = AwsClients(settings)
    _ = clients.s3
    counter = _OperationCounter(clients.botocore_session)
    jobs = TimedSigningJobs(replace(settings, export_fan_out="in-process", export_max_statements_per_file=PART_SIZE),
                            initiative, today=lambda: date(2026, 11, 28),
                            now=lambda: datetime(2026, 11, 28, 2, tzinfo=UTC), aws=clients)
    progress("export end to end: exporting on moto")
    started_wall = time.perf_counter()
    started = time.process_time()
    manifest = jobs.start_export("bench").manifest
    cpu = time.process_time() - started
    wall = time.perf_counter() - started_wall
    if manifest is None or manifest["totals"]["statements"] != E2E_STATEMENTS:
        raise BenchError("the end-to-end export did not export every statement")
    if len(signing_seconds) != 1:
        raise BenchError(f"the run's manifest was signed {len(signing_seconds)} times, not once")
    kms: Counter[str] = Counter()
    for (service, operation), number in counter.operations.items():
        if service == "kms":
            kms[operation] += number
    return [
        Figure("export_e2e_moto_statements", str(E2E_STATEMENTS), "statements"),
        Figure("export_e2e_moto_statements_per_cpu_second", f"{E2E_STATEMENTS / cpu:.0f}", "statements/s"),
        Figure("export_e2e_moto_wall_seconds", f"{wall:.1f}", "s"),
        Figure("export_kms_decrypt_calls", str(kms["Decrypt"]), "calls"),
        Figure("export_statement_data_keys", str(data_keys), "data keys"),
        Figure("export_kms_decrypt_calls_per_data_key", f"{kms['Decrypt'] / max(data_keys, 1):.2f}", "calls"),
        Figure("export_kms_generate_data_key_calls", str(kms["GenerateDataKey"]), "calls"),
        Figure("export_kms_sign_calls", str(kms["Sign"]), "calls"),  # the manifest's signature: one per run
        Figure("export_manifest_sign_ms", f"{signing_seconds[0] * 1000:.1f}", "ms"),
        # Its share of the same run's wall time: what signing adds to an export, free of the machine's noise.
        Figure("export_manifest_sign_share_of_run", f"{100 * signing_seconds[0] / wall:.3f}", "%"),
        Figure("export_files", str(manifest["totals"]["files"]), "files"),
    ]


def figures(settings: Settings) -> list[Figure]:
    results = end_to_end(settings)
    progress(f"export fake store: {', '.join(map(str, FAKE_SIZES))} statements with decryption, "
             f"{FLAT_MEMORY_SIZE} without, each in a fresh process")
    runs = _run_children([*((size, True) for size in FAKE_SIZES), (FLAT_MEMORY_SIZE, False)])
    for size, run in zip(FAKE_SIZES, runs, strict=False):
        results += [
            Figure(f"export_{size}_statements_per_cpu_second", f"{size / run['cpu_seconds']:.0f}", "statements/s"),
            Figure(f"export_{size}_peak_rss", f"{run['peak_rss_mb']:.0f}", "MB"),
        ]
    run = runs[-1]
    results += [
        Figure(f"export_{FLAT_MEMORY_SIZE}_xml_and_encrypt_statements_per_cpu_second",
               f"{FLAT_MEMORY_SIZE / run['cpu_seconds']:.0f}", "statements/s"),
        Figure(f"export_{FLAT_MEMORY_SIZE}_xml_and_encrypt_peak_rss", f"{run['peak_rss_mb']:.0f}", "MB"),
    ]
    return results


if __name__ == "__main__":
    # The child process of a fake-store run: python -m bench.export_throughput TOTAL decrypt|plain
    print(json.dumps(child(int(sys.argv[1]), sys.argv[2] == "decrypt")))
