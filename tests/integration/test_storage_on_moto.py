"""The AWS adapters (chalicelib.storage) and the local provisioning, on a moto server."""

from __future__ import annotations

import base64
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import boto3
import botocore.session
import pytest

from chalicelib.config import PROJECT_ROOT, Settings
from chalicelib.signing.ports import StatementRecord, StorageUnavailableError
from chalicelib.storage.clients import AwsClients
from chalicelib.storage.counters import DynamoDBCounterReader
from chalicelib.storage.encryption import (
    KmsStatementOpener,
    KmsStatementSealer,
    NaiveStatementSealer,
    StatementContextError,
)
from chalicelib.storage.fingerprint_key import (
    FingerprintKeyError,
    create_fingerprint_key,
    load_fingerprint_key,
)
from chalicelib.storage.statements import (
    STATEMENT_BUCKETS,
    DynamoDBStatementStore,
    marker_key,
    parse_statement_partition_key,
    statement_key,
)
from tests.integration.conftest import write_counts

INITIATIVE = "demo-2026"
CONTEXT = {"initiative_id": INITIATIVE, "member_state": "DE"}
# What a German signatory's sealed statement holds; none of it may appear outside the envelope.
PERSONAL_DATA = {
    "full_first_names": "Jürgen",
    "family_names": "Großmann",
    "street": "Kastanienallee 12b",
    "postal_code": "10435",
    "date_of_birth": "1988-03-07",
}


def _personal_bytes() -> bytes:
    return repr(sorted(PERSONAL_DATA.items())).encode("utf-8")


def _record(sealed: bytes = b"sealed", initiative: str = INITIATIVE) -> StatementRecord:
    return StatementRecord(
        initiative_id=initiative,
        member_state="DE",
        statement_id=str(uuid.uuid4()),
        submitted_on=date(2026, 11, 27),
        form_language="de",
        annex_revision=1,
        sealed=sealed,
    )


def _scan(settings: Settings, table: str | None = None) -> list[dict[str, Any]]:
    dynamodb: Any = boto3.client("dynamodb", region_name=settings.region)
    return list(dynamodb.scan(TableName=table or settings.statements_table)["Items"])


@pytest.fixture
def store(empty_tables: Settings, aws_clients: AwsClients) -> DynamoDBStatementStore:
    return DynamoDBStatementStore(aws_clients.dynamodb, empty_tables.statements_table)


@pytest.fixture
def calls_to(aws_clients: AwsClients) -> Iterator[list[str]]:
    """Names of the DynamoDB operations the shared client sends while the test runs."""
    names: list[str] = []

    def record(model: Any, **_: Any) -> None:
        names.append(model.name)

    events = aws_clients.dynamodb.meta.events
    events.register("before-call.dynamodb", record)
    yield names
    events.unregister("before-call.dynamodb", record)


# What infra/data.yaml declares is what moto has: tests/integration/test_local_parity.py.


# --- statements and duplicate markers -----------------------------------------------------------------


def test_statement_and_marker_are_written_in_one_transaction(
    store: DynamoDBStatementStore, empty_tables: Settings, calls_to: list[str]
) -> None:
    record = _record()

    assert store.add(record, fingerprint="f" * 64) is True

    assert calls_to == ["TransactWriteItems"]
    items = {item["pk"]["S"]: item for item in _scan(empty_tables)}
    statement = statement_key(INITIATIVE, "DE", record.statement_id)
    marker = marker_key(INITIATIVE, "f" * 64)
    assert set(items) == {statement.pk, marker.pk}
    stored = items[statement.pk]
    assert stored["sk"]["S"] == record.statement_id
    assert stored["submitted_on"]["S"] == "2026-11-27"
    assert stored["annex_revision"]["N"] == "1"
    assert stored["form_language"]["S"] == "de"
    assert stored["sealed"]["B"] == b"sealed"
    assert items[marker.pk]["statement_pk"]["S"] == statement.pk
    assert items[marker.pk]["statement_sk"]["S"] == statement.sk


def test_second_statement_with_same_fingerprint_stores_nothing(
    store: DynamoDBStatementStore, empty_tables: Settings
) -> None:
    first, second = _record(), _record()
    assert store.add(first, fingerprint="a" * 64) is True

    assert store.add(second, fingerprint="a" * 64) is False

    statement_ids = {item["sk"]["S"] for item in _scan(empty_tables) if item["pk"]["S"].startswith("S#")}
    assert statement_ids == {first.statement_id}
    assert sum(1 for item in _scan(empty_tables) if item["pk"]["S"].startswith("F#")) == 1


def test_same_person_may_support_another_initiative(store: DynamoDBStatementStore) -> None:
    assert store.add(_record(), fingerprint="b" * 64) is True
    assert store.add(_record(initiative="other-2026"), fingerprint="b" * 64) is True


def test_statement_id_collision_is_an_error_not_a_duplicate(store: DynamoDBStatementStore) -> None:
    record = _record()
    assert store.add(record, fingerprint="c" * 64) is True

    with pytest.raises(StorageUnavailableError, match="ConditionalCheckFailed"):
        store.add(replace(record, sealed=b"other"), fingerprint="d" * 64)


def test_statement_key_holds_no_identity(
    store: DynamoDBStatementStore, empty_tables: Settings, aws_clients: AwsClients
) -> None:
    sealer = KmsStatementSealer(
        empty_tables.statements_key, aws_clients.botocore_session, max_age_seconds=60, max_messages=100
    )
    records = [_record(sealer.seal(_personal_bytes(), CONTEXT)) for _ in range(20)]
    for number, record in enumerate(records):
        assert store.add(record, fingerprint=f"{number:064x}")

    items = _scan(empty_tables)
    assert len(items) == 40
    for item in items:
        for name, value in item.items():
            text = value.get("S", "") if name != "sealed" else value["B"].decode("latin-1")
            for personal in PERSONAL_DATA.values():
                assert personal not in text, f"{personal!r} readable in attribute {name}"
        if item["pk"]["S"].startswith("S#"):
            assert parse_statement_partition_key(item["pk"]["S"]) == (INITIATIVE, "DE")
            uuid.UUID(item["sk"]["S"])  # the sort key is the random statement id, nothing else
    buckets = {item["pk"]["S"].rsplit("#", 1)[1] for item in items if item["pk"]["S"].startswith("S#")}
    assert len(buckets) > 1 and all(0 <= int(bucket) < STATEMENT_BUCKETS for bucket in buckets)


# --- sealing --------------------------------------------------------------------------------------------


@dataclass
class KmsSpy:
    """A botocore session for the encryption SDK, and the names of the KMS calls made through it."""

    session: botocore.session.Session
    calls: list[str]


@pytest.fixture
def kms_spy() -> KmsSpy:
    spy = KmsSpy(botocore.session.Session(), [])

    def record(**event: Any) -> None:
        spy.calls.append(event["model"].name)

    # Clients the encryption SDK creates from this session inherit the handler.
    spy.session.register("before-call.kms", record)
    return spy


def test_sealed_statement_opens_only_with_the_expected_context(aws_settings: Settings) -> None:
    key_arn, session = aws_settings.statements_key, botocore.session.Session()
    sealer = KmsStatementSealer(key_arn, session, max_age_seconds=60, max_messages=10)
    opener = KmsStatementOpener(key_arn, session)
    sealed = sealer.seal(_personal_bytes(), CONTEXT)

    assert _personal_bytes() not in sealed
    assert opener.open(sealed, CONTEXT) == _personal_bytes()
    assert opener.open(sealed, {"member_state": "DE"}) == _personal_bytes()
    with pytest.raises(StatementContextError, match="member_state") as refused:
        opener.open(sealed, {**CONTEXT, "member_state": "PL"})
    assert "DE" not in str(refused.value) and "PL" not in str(refused.value)


def test_thousand_seals_cost_one_kms_call(aws_settings: Settings, kms_spy: KmsSpy) -> None:
    key_arn = aws_settings.statements_key
    sealer = KmsStatementSealer(key_arn, kms_spy.session, max_age_seconds=300, max_messages=100_000)

    sealed = [sealer.seal(b"statement %d" % number, CONTEXT) for number in range(1000)]

    assert kms_spy.calls == ["GenerateDataKey"]
    assert len(set(sealed)) == 1000
    opener = KmsStatementOpener(key_arn, botocore.session.Session())
    assert opener.open(sealed[999], CONTEXT) == b"statement 999"


def test_seal_cache_renews_the_data_key_after_max_messages(aws_settings: Settings, kms_spy: KmsSpy) -> None:
    key_arn = aws_settings.statements_key
    sealer = KmsStatementSealer(key_arn, kms_spy.session, max_age_seconds=300, max_messages=10)

    for number in range(25):
        sealer.seal(b"statement %d" % number, CONTEXT)

    assert kms_spy.calls == ["GenerateDataKey"] * 3


def test_naive_baseline_calls_kms_for_every_statement(aws_settings: Settings, kms_spy: KmsSpy) -> None:
    sealer = NaiveStatementSealer(aws_settings.statements_key, kms_spy.session)

    sealed = [sealer.seal(b"statement", CONTEXT) for _ in range(3)]

    assert kms_spy.calls == ["GenerateDataKey"] * 3
    opener = KmsStatementOpener(aws_settings.statements_key, botocore.session.Session())
    assert opener.open(sealed[0], CONTEXT) == b"statement"


def test_key_alias_is_refused_because_it_cannot_decrypt(aws_settings: Settings) -> None:
    with pytest.raises(ValueError, match="ARN"):
        KmsStatementSealer(
            f"alias/eci-{aws_settings.stage}-statements",
            botocore.session.Session(),
            max_age_seconds=60,
            max_messages=10,
        )


# --- fingerprint key ------------------------------------------------------------------------------------


def _fingerprint_key(clients: AwsClients, parameter_name: str) -> bytes:
    return load_fingerprint_key(clients.ssm, clients.kms, parameter_name)


def test_fingerprint_key_loads_from_parameter(aws_settings: Settings, aws_clients: AwsClients) -> None:
    parameter_name = aws_settings.fingerprint_key_parameter
    key = _fingerprint_key(aws_clients, parameter_name)

    assert len(key) == 32
    stored = aws_clients.ssm.get_parameter(Name=parameter_name)["Parameter"]
    assert stored["Type"] == "String"
    assert key not in base64.b64decode(stored["Value"])  # only the KMS ciphertext is stored


def test_fingerprint_key_is_never_overwritten(aws_settings: Settings, aws_clients: AwsClients) -> None:
    parameter_name = aws_settings.fingerprint_key_parameter
    before = _fingerprint_key(aws_clients, parameter_name)
    wrapping_key = aws_clients.kms.describe_key(KeyId=f"alias/eci-{aws_settings.stage}-fingerprint")

    created = create_fingerprint_key(
        aws_clients.ssm, aws_clients.kms, wrapping_key["KeyMetadata"]["Arn"], parameter_name
    )

    assert created is False
    assert _fingerprint_key(aws_clients, parameter_name) == before


def test_missing_fingerprint_key_parameter_is_named_in_the_error(aws_clients: AwsClients) -> None:
    with pytest.raises(FingerprintKeyError, match="/eci/nowhere/fingerprint-key"):
        _fingerprint_key(aws_clients, "/eci/nowhere/fingerprint-key")


def test_undecryptable_fingerprint_key_parameter_is_named_in_the_error(aws_clients: AwsClients) -> None:
    name = "/eci/broken/fingerprint-key"
    not_a_ciphertext = base64.b64encode(b"not a kms ciphertext").decode()
    aws_clients.ssm.put_parameter(Name=name, Value=not_a_ciphertext, Type="String", Overwrite=True)

    with pytest.raises(FingerprintKeyError, match=name):
        _fingerprint_key(aws_clients, name)


# --- counters -------------------------------------------------------------------------------------------


def test_counts_are_the_sum_of_their_shards_per_member_state(empty_tables: Settings, aws_clients: AwsClients) -> None:
    dynamodb = aws_clients.dynamodb
    write_counts(dynamodb, empty_tables.counters_table, INITIATIVE, {"DE": 5, "PL": 3}, shard=0)
    write_counts(dynamodb, empty_tables.counters_table, INITIATIVE, {"DE": 2, "AT": 0}, shard=5)
    dynamodb.put_item(  # the final flag shares the partition and is not a count
        TableName=empty_tables.counters_table,
        Item={"pk": {"S": INITIATIVE}, "sk": {"S": "FINAL"}, "DE": {"N": "99"}},
    )

    reader = DynamoDBCounterReader(dynamodb, empty_tables.counters_table)

    assert reader.counts(INITIATIVE) == {"DE": 7, "PL": 3, "AT": 0}
    assert reader.counts("initiative-without-statements") == {}


# --- import cost ----------------------------------------------------------------------------------------


def test_importing_storage_loads_no_aws_sdk() -> None:
    """GET pages import the adapters; only building them may load boto3, sealing the encryption SDK."""
    probe = (
        "import sys\n"
        "import chalicelib.storage.clients, chalicelib.storage.counters, chalicelib.storage.encryption\n"
        "import chalicelib.storage.fingerprint_key, chalicelib.storage.statements\n"
        "loaded = [m for m in ('boto3', 'botocore', 'aws_encryption_sdk') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    command = [sys.executable, "-c", probe]
    result = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, check=False)  # noqa: S603
    assert result.returncode == 0, result.stderr
