"""The process's AWS clients, shared by our code and the AWS Encryption SDK."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from chalicelib.storage.clients import AwsClients
from chalicelib.storage.encryption import _key_provider

KEY = "arn:aws:kms:eu-central-1:123456789012:key/11111111-2222-3333-4444-555555555555"


@pytest.fixture
def clients(monkeypatch: pytest.MonkeyPatch) -> AwsClients:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    settings: Any = SimpleNamespace(region="eu-central-1")
    return AwsClients(settings)


def test_an_export_that_opened_statements_first_can_still_write_its_files(clients: AwsClients) -> None:
    # The SDK's key provider wraps the shared botocore session in a boto3 session of its own. When ours was
    # a boto3 session too, an S3 client made after that failed ("Cannot inject class attribute upload_file"):
    # an operator's tool or a test that decrypted before it wrote got a RuntimeError instead of a file.
    _key_provider(KEY, clients.botocore_session).add_regional_client("eu-central-1")

    assert clients.s3.meta.region_name == "eu-central-1"
    assert clients.dynamodb is clients.dynamodb  # made once, kept


def test_clients_use_the_configured_region_and_the_shared_session(clients: AwsClients) -> None:
    assert {clients.kms.meta.region_name, clients.ssm.meta.region_name} == {"eu-central-1"}
    assert clients.botocore_session is clients.botocore_session
