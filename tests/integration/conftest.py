"""Fixtures for integration tests against a moto server provisioned from infra/data.yaml.

For every test author in tests/integration:

* ``moto_env`` (session): starts moto in this process on a free port (chalicelib.local.moto_server),
  provisions exactly what infra/data.yaml declares plus the fingerprint key (chalicelib.local.provision),
  and yields a dict of environment variables: the moto endpoint and test credentials, and
  STATEMENTS_TABLE, COUNTERS_TABLE, STATEMENTS_KEY, FINGERPRINT_KEY_PARAMETER, EXPORT_BUCKET,
  ECI_STAGE. The same variables are set in os.environ for the session and restored afterwards, so plain
  ``boto3.client(...)`` calls reach moto.
* ``aws_settings`` (session): chalicelib.config.Settings built from that environment.
* ``aws_clients`` (session): chalicelib.storage.clients.AwsClients for those settings.
* ``empty_tables`` (function): empties the statements and counters tables before the test;
  ``clear_tables(settings)`` does the same from anywhere.
* ``statement_stream`` (function): a function returning the statements table's stream records written
  since the last call (since the test began, at first), shaped as Lambda delivers them: read by the
  local runner's stream pump and built by its event builder (chalicelib/local/stream_events.py).

moto keeps its state in memory for the whole session: tests that count items should ask for
``empty_tables`` (or use their own initiative id).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from chalicelib import config
from chalicelib.config import Settings
from chalicelib.local.moto_server import moto_environment, start_moto_server
from chalicelib.local.provision import provision
from chalicelib.storage.clients import AwsClients

TEST_STAGE = "test"


@pytest.fixture(scope="session")
def moto_env() -> Iterator[dict[str, str]]:
    with pytest.MonkeyPatch.context() as patch:
        # Apply the moto variables through monkeypatch so the session's end restores the environment.
        server = start_moto_server(port=0, set_environment=False)
        environment = moto_environment(server.endpoint_url)
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
            patch.delenv(name, raising=False)
        for name, value in environment.items():
            patch.setenv(name, value)
        environment.update(provision(server.endpoint_url, stage=TEST_STAGE))
        for name, value in environment.items():
            patch.setenv(name, value)
        config.settings.cache_clear()
        try:
            yield environment
        finally:
            config.settings.cache_clear()
            server.stop()


@pytest.fixture(scope="session")
def aws_settings(moto_env: dict[str, str]) -> Settings:
    return Settings.from_environ(moto_env)


@pytest.fixture(scope="session")
def aws_clients(aws_settings: Settings) -> AwsClients:
    return AwsClients(aws_settings)


def clear_tables(settings: Settings) -> None:
    """Delete every item of the statements and counters tables (moto is slow: keep tables small)."""
    import boto3

    dynamodb: Any = boto3.client("dynamodb", region_name=settings.region)
    for table in (settings.statements_table, settings.counters_table):
        for page in dynamodb.get_paginator("scan").paginate(TableName=table, ProjectionExpression="pk, sk"):
            for item in page["Items"]:
                dynamodb.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})


def write_counts(dynamodb: Any, counters_table: str, initiative_id: str, counts: dict[str, int],
                 shard: int = 0) -> None:
    """Counts as the count function leaves them: a totals item per shard, one number per Member State."""
    from chalicelib.storage.counter_writer import totals_sort_key

    dynamodb.put_item(TableName=counters_table, Item={
        "pk": {"S": initiative_id}, "sk": {"S": totals_sort_key(shard)},
        **{code: {"N": str(number)} for code, number in counts.items()},
    })


@pytest.fixture
def empty_tables(aws_settings: Settings) -> Settings:
    clear_tables(aws_settings)
    return aws_settings


@pytest.fixture
def statement_stream(moto_env: dict[str, str], aws_settings: Settings) -> Callable[[], list[dict[str, Any]]]:
    from chalicelib.local.stream_pump import StreamPump, streams_client

    events: list[dict[str, Any]] = []
    pump = StreamPump(streams_client(aws_settings.region), moto_env["STATEMENTS_STREAM_ARN"], events.append,
                      batch_size=1000, starting_position="LATEST")
    pump.pump_once()  # takes its place at the end of the stream: records of earlier tests are not ours

    def records_since_last_call() -> list[dict[str, Any]]:
        events.clear()
        while pump.pump_once():
            pass
        return [record for event in events for record in event["Records"]]

    return records_since_last_call
