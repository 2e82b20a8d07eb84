"""The count function's stream comes from STATEMENTS_STREAM_ARN when Chalice imports app.py."""

from __future__ import annotations

from chalicelib.config import UNSET_STREAM_ARN, statements_stream_arn_from

STREAM = "arn:aws:dynamodb:eu-central-1:123456789012:table/eci-prod-statements/stream/2026-09-01T00:00:00.000"


def test_the_deploy_command_names_the_stream_in_statements_stream_arn() -> None:
    assert statements_stream_arn_from({"STATEMENTS_STREAM_ARN": f" {STREAM} "}) == STREAM


def test_without_it_the_package_still_builds_and_its_mapping_names_the_missing_variable() -> None:
    assert statements_stream_arn_from({}) == UNSET_STREAM_ARN
    assert statements_stream_arn_from({"STATEMENTS_STREAM_ARN": ""}) == UNSET_STREAM_ARN
    assert "STATEMENTS_STREAM_ARN" in UNSET_STREAM_ARN and UNSET_STREAM_ARN.startswith("arn:aws:dynamodb:")
