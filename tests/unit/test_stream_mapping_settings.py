"""The count function's mapping settings live in one place (chalicelib/counting/mapping_settings.py); the
packaged template, the deploy command and the Chalice config must say the same, or the repair's wait is
wrong."""

from __future__ import annotations

import json
from pathlib import Path

from chalicelib.counting.mapping_settings import COUNT_FUNCTION_TIMEOUT_SECONDS, REPAIR_AFTER_SECONDS, STREAM_MAPPING
from infra.deploy import STREAM_MAPPING as DEPLOYED

ROOT = Path(__file__).resolve().parents[2]


def test_make_deploy_and_the_pipeline_template_give_the_mapping_the_same_settings() -> None:
    merge = json.loads((ROOT / "infra" / "stream-mapping.merge.json").read_text(encoding="utf-8"))
    [event] = merge["Resources"]["CountStatements"]["Properties"]["Events"].values()

    assert DEPLOYED == STREAM_MAPPING
    assert {key: event["Properties"][key] for key in STREAM_MAPPING} == STREAM_MAPPING


def test_the_repair_waits_longer_than_a_record_can_still_be_applied() -> None:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))
    for stage in config["stages"].values():
        assert stage["lambda_functions"]["count_statements"]["lambda_timeout"] == COUNT_FUNCTION_TIMEOUT_SECONDS
    assert STREAM_MAPPING["MaximumRecordAgeInSeconds"] + COUNT_FUNCTION_TIMEOUT_SECONDS < REPAIR_AFTER_SECONDS


def test_the_dashboard_finds_the_count_failure_queue_whichever_way_the_stage_was_deployed() -> None:
    # The console reads the queue's depth by name (COUNT_FAILURE_QUEUE, by default eci-{stage}-count-failures):
    # a queue the pipeline template left to CloudFormation's naming showed "cannot be read" for ever.
    from chalicelib.config import _console_settings
    from chalicelib.local.provision import load_template

    failures = load_template(ROOT / "infra" / "stream-failures.yaml")
    merge = json.loads((ROOT / "infra" / "stream-mapping.merge.json").read_text(encoding="utf-8"))
    deployed = failures["Resources"]["CountFailureQueue"]["Properties"]["QueueName"]
    packaged = merge["Resources"]["CountStatementsFailureQueue"]["Properties"]["QueueName"]

    assert deployed == packaged == {"Fn::Sub": "eci-${Stage}-count-failures"}
    assert _console_settings({"ECI_STAGE": "prod"})["count_failure_queue"] == "eci-prod-count-failures"
