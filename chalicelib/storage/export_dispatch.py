"""Fanning an export run out: one asynchronous Lambda invocation per Member State (or to go on with one)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_lambda.client import LambdaClient


class LambdaDispatcher:
    """Invokes the export worker function with an event; returns without waiting for it."""

    def __init__(self, client: LambdaClient, function_name: str) -> None:
        self._client = client
        self._function = function_name

    def dispatch(self, event: Mapping[str, object]) -> None:
        self._client.invoke(
            FunctionName=self._function,
            InvocationType="Event",
            Payload=json.dumps(dict(event)).encode("utf-8"),
        )
