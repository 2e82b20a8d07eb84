"""What `make deploy` hands chalice: the data stack's outputs over .chalice/config.json, for every function."""

from __future__ import annotations

import pytest

from infra.chalice_stage import assignments, stage_config

INJECTED = {
    "STATEMENTS_KEY": "arn:aws:kms:eu-central-1:123456789012:key/0a1b2c3d-0000-0000-0000-000000000000",
    "EXPORT_BUCKET": "eci-prod-exports-123456789012-eu-central-1",
    "STATEMENTS_STREAM_ARN": "arn:aws:dynamodb:eu-central-1:123456789012:table/eci-prod-statements/stream/2026",
}


@pytest.mark.parametrize("function", ["api_handler", "count_statements", "export_worker", "purge_statements"])
def test_every_function_gets_the_stack_outputs_over_the_stage_config(function: str) -> None:
    _, config = stage_config("prod", dict(INJECTED), {})

    variables = config.scope("prod", function).environment_variables

    assert variables["STATEMENTS_KEY"] == INJECTED["STATEMENTS_KEY"]  # over config.json's alias
    assert variables["EXPORT_BUCKET"] == INJECTED["EXPORT_BUCKET"]  # which config.json cannot know
    assert variables["ECI_STAGE"] == "prod" and variables["INITIATIVE_FILE"] == "initiatives/demo.json"


def test_the_stream_arn_is_in_the_environment_chalice_sets_before_it_imports_app_py() -> None:
    _, config = stage_config("prod", dict(INJECTED), {})

    # The very mapping Chalice's load_chalice_app puts into os.environ before `import app`.
    assert config.environment_variables["STATEMENTS_STREAM_ARN"] == INJECTED["STATEMENTS_STREAM_ARN"]


def test_assignments_keep_equals_signs_in_values_and_refuse_a_missing_name() -> None:
    assert assignments(["A=b=c", "EMPTY="], "--set") == {"A": "b=c", "EMPTY": ""}
    with pytest.raises(ValueError, match="--set takes NAME=VALUE"):
        assignments(["=value"], "--set")
