"""A day of `make run` polls moto's stream about 700,000 times: its shard iterators must expire, as on AWS."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from chalicelib.config import Settings
from chalicelib.local.moto_shard_iterators import ITERATOR_LIFETIME_SECONDS, ExpiringIterators


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_iterators_older_than_fifteen_minutes_are_forgotten_as_new_ones_come() -> None:
    clock = _Clock()
    iterators = ExpiringIterators(clock)
    for number in range(1000):
        iterators[f"old-{number}"] = object()
    clock.now = ITERATOR_LIFETIME_SECONDS - 1
    iterators["recent"] = object()
    clock.now = ITERATOR_LIFETIME_SECONDS
    iterators["new"] = object()

    assert set(iterators) == {"recent", "new"}


def test_an_expired_iterator_is_answered_as_dynamodb_streams_answers_it() -> None:
    from moto.core.exceptions import JsonRESTError

    with pytest.raises(JsonRESTError) as expired:
        ExpiringIterators()["gone"]
    assert expired.value.error_type == "ExpiredIteratorException"


def test_the_local_moto_server_keeps_its_shard_iterators_in_an_expiring_dict(aws_settings: Settings) -> None:
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    streams: Any = boto3.client("dynamodbstreams", region_name=aws_settings.region)
    streams.list_streams()  # the backend exists once asked
    account = boto3.client("sts", region_name=aws_settings.region).get_caller_identity()["Account"]

    assert isinstance(dynamodbstreams_backends[account][aws_settings.region].shard_iterators, ExpiringIterators)
