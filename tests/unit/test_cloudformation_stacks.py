"""The deploy command's stacks, against botocore's Stubber: the calls CloudFormation would get, in order.

moto can create infra/data.yaml's resources, but a stack made through a change set gets no outputs there,
and its CloudFormation costs seconds to import; the Stubber checks every request against the service
model instead, in milliseconds.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from infra.stacks import CloudFormationStacks, StackError, template_parameters

STACK = "eci-dev-data"
STACK_ID = f"arn:aws:cloudformation:eu-central-1:123456789012:stack/{STACK}/0d9a3f20-0000-0000-0000-000000000000"
CHANGE_SET_ID = f"arn:aws:cloudformation:eu-central-1:123456789012:changeSet/deploy-1/{'1' * 8}"
TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Stage: {Type: String}
  OperatorPrincipalArn: {Type: String, Default: ""}
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub "eci-${Stage}-statements"
Outputs:
  StatementsTableName:
    Value: !Ref Table
"""


@pytest.fixture
def template(tmp_path: Path) -> Path:
    path = tmp_path / "data.yaml"
    path.write_text(TEMPLATE, encoding="utf-8")
    return path


@pytest.fixture
def client() -> Any:
    return boto3.client("cloudformation", region_name="eu-central-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def _stack(status: str, **extra: Any) -> dict[str, Any]:
    return {"Stacks": [{"StackName": STACK, "StackId": STACK_ID, "StackStatus": status,
                        "CreationTime": datetime(2026, 11, 28, tzinfo=UTC), **extra}]}


def _event(number: int, status: str, logical: str = STACK, reason: str = "") -> dict[str, Any]:
    event = {"StackId": STACK_ID, "EventId": f"event-{number}", "StackName": STACK, "LogicalResourceId": logical,
             "Timestamp": datetime(2026, 11, 28, 10, 0, number, tzinfo=UTC), "ResourceStatus": status}
    if reason:
        event["ResourceStatusReason"] = reason
    return event


def _missing(stubber: Stubber) -> None:
    stubber.add_client_error("describe_stacks", "ValidationError", f"Stack with id {STACK} does not exist",
                             expected_params={"StackName": STACK})


def test_a_new_stack_is_created_through_a_change_set_and_its_progress_and_outputs_come_back(
    client: Any, template: Path
) -> None:
    out = io.StringIO()
    stubber = Stubber(client)
    _missing(stubber)
    stubber.add_response("create_change_set", {"Id": CHANGE_SET_ID, "StackId": STACK_ID}, {
        "StackName": STACK, "TemplateBody": TEMPLATE, "Capabilities": [], "ChangeSetName": ANY,
        "ChangeSetType": "CREATE", "Description": ANY,
        "Parameters": [{"ParameterKey": "Stage", "ParameterValue": "dev"}],
    })
    stubber.add_response("describe_change_set", {"Status": "CREATE_COMPLETE"},
                         {"ChangeSetName": CHANGE_SET_ID, "StackName": STACK})
    stubber.add_response("describe_change_set", {"Status": "CREATE_COMPLETE", "Changes": [
        {"Type": "Resource", "ResourceChange": {"Action": "Add", "LogicalResourceId": "Table",
                                                "ResourceType": "AWS::DynamoDB::Table"}},
    ]}, {"ChangeSetName": CHANGE_SET_ID})
    stubber.add_response("describe_stack_events", {"StackEvents": [_event(0, "REVIEW_IN_PROGRESS")]},
                         {"StackName": STACK_ID})
    stubber.add_response("execute_change_set", {}, {"ChangeSetName": CHANGE_SET_ID})
    stubber.add_response("describe_stack_events", {"StackEvents": [
        _event(2, "CREATE_IN_PROGRESS", "Table"), _event(1, "CREATE_IN_PROGRESS"), _event(0, "REVIEW_IN_PROGRESS"),
    ]}, {"StackName": STACK_ID})
    stubber.add_response("describe_stacks", _stack("CREATE_IN_PROGRESS"), {"StackName": STACK_ID})
    stubber.add_response("describe_stack_events", {"StackEvents": [
        _event(4, "CREATE_COMPLETE"), _event(3, "CREATE_COMPLETE", "Table"), _event(2, "CREATE_IN_PROGRESS", "Table"),
    ]}, {"StackName": STACK_ID})
    stubber.add_response("describe_stacks", _stack("CREATE_COMPLETE"), {"StackName": STACK_ID})
    stubber.add_response("describe_stacks", _stack("CREATE_COMPLETE", Outputs=[
        {"OutputKey": "StatementsTableName", "OutputValue": "eci-dev-statements"}]), {"StackName": STACK_ID})
    sleeps: list[float] = []

    with stubber:
        outputs = CloudFormationStacks(client, out, poll_seconds=0, sleep=sleeps.append).deploy(
            STACK, template, {"Stage": "dev"})

    stubber.assert_no_pending_responses()
    assert outputs == {"StatementsTableName": "eci-dev-statements"}
    printed = out.getvalue()
    assert "create eci-dev-data (eu-central-1): 1 changes" in printed
    assert "Add     Table (AWS::DynamoDB::Table)" in printed
    assert printed.index("CREATE_IN_PROGRESS   Table") < printed.index("CREATE_COMPLETE      Table")
    assert "REVIEW_IN_PROGRESS" not in printed  # history before the change set ran is not progress
    assert printed.rstrip().endswith("eci-dev-data: CREATE_COMPLETE")
    assert sleeps == [0]


def test_an_update_that_changes_nothing_says_so_and_keeps_the_organisers_parameters(
    client: Any, template: Path
) -> None:
    out = io.StringIO()
    stubber = Stubber(client)
    existing = _stack("UPDATE_COMPLETE", Parameters=[
        {"ParameterKey": "Stage", "ParameterValue": "dev"},
        {"ParameterKey": "OperatorPrincipalArn", "ParameterValue": "arn:aws:iam::123456789012:role/operator"},
    ], Outputs=[{"OutputKey": "StatementsTableName", "OutputValue": "eci-dev-statements"}])
    stubber.add_response("describe_stacks", existing, {"StackName": STACK})
    stubber.add_response("create_change_set", {"Id": CHANGE_SET_ID, "StackId": STACK_ID}, {
        "StackName": STACK, "TemplateBody": TEMPLATE, "Capabilities": [], "ChangeSetName": ANY,
        "ChangeSetType": "UPDATE", "Description": ANY,
        "Parameters": [{"ParameterKey": "Stage", "ParameterValue": "dev"},
                       {"ParameterKey": "OperatorPrincipalArn", "UsePreviousValue": True}],
    })
    no_changes = {"Status": "FAILED", "StatusReason": "The submitted information didn't contain changes. "
                  "Submit different information to create a change set."}
    stubber.add_response("describe_change_set", no_changes, {"ChangeSetName": CHANGE_SET_ID, "StackName": STACK})
    stubber.add_response("describe_change_set", no_changes, {"ChangeSetName": CHANGE_SET_ID})
    stubber.add_response("delete_change_set", {}, {"ChangeSetName": CHANGE_SET_ID})
    stubber.add_response("describe_stacks", existing, {"StackName": STACK})

    with stubber:
        outputs = CloudFormationStacks(client, out, poll_seconds=0).deploy(STACK, template, {"Stage": "dev"})

    stubber.assert_no_pending_responses()
    assert outputs == {"StatementsTableName": "eci-dev-statements"}
    assert out.getvalue() == "  eci-dev-data: no changes\n"


def test_a_failed_update_raises_with_the_resources_reason(client: Any, template: Path) -> None:
    stubber = Stubber(client)
    stubber.add_response("describe_stacks", _stack("CREATE_COMPLETE"), {"StackName": STACK})
    stubber.add_response("create_change_set", {"Id": CHANGE_SET_ID, "StackId": STACK_ID}, None)
    stubber.add_response("describe_change_set", {"Status": "CREATE_COMPLETE"}, None)
    stubber.add_response("describe_change_set", {"Status": "CREATE_COMPLETE", "Changes": []}, None)
    stubber.add_response("describe_stack_events", {"StackEvents": []}, None)
    stubber.add_response("execute_change_set", {}, None)
    stubber.add_response("describe_stack_events", {"StackEvents": [
        _event(2, "UPDATE_ROLLBACK_COMPLETE"),
        _event(1, "UPDATE_FAILED", "Table", "Resource handler returned message: \"Access denied\""),
    ]}, None)
    stubber.add_response("describe_stacks", _stack("UPDATE_ROLLBACK_COMPLETE"), {"StackName": STACK_ID})

    failed = r"eci-dev-data ended UPDATE_ROLLBACK_COMPLETE: Table: .*Access denied"
    with stubber, pytest.raises(StackError, match=failed):
        CloudFormationStacks(client, io.StringIO(), poll_seconds=0).deploy(STACK, template, {"Stage": "dev"})


def test_a_parameter_the_template_does_not_declare_is_refused_before_anything_is_sent(
    client: Any, template: Path
) -> None:
    with Stubber(client), pytest.raises(StackError, match="declares no parameter ApiDomainName"):
        CloudFormationStacks(client, io.StringIO()).deploy(STACK, template, {"ApiDomainName": "x"})


def test_deleting_waits_for_the_stack_to_go_and_a_missing_stack_is_no_error(client: Any) -> None:
    out = io.StringIO()
    stubber = Stubber(client)
    stubber.add_response("describe_stacks", _stack("UPDATE_COMPLETE"), {"StackName": STACK})
    stubber.add_response("describe_stack_events", {"StackEvents": [_event(0, "UPDATE_COMPLETE")]}, None)
    stubber.add_response("delete_stack", {}, {"StackName": STACK_ID})
    stubber.add_response("describe_stack_events", {"StackEvents": [_event(1, "DELETE_IN_PROGRESS")]}, None)
    stubber.add_response("describe_stacks", _stack("DELETE_COMPLETE"), {"StackName": STACK_ID})
    _missing(stubber)

    with stubber:
        stacks = CloudFormationStacks(client, out, poll_seconds=0)
        assert stacks.delete(STACK) is True
        assert stacks.delete(STACK) is False

    assert "DELETE_IN_PROGRESS" in out.getvalue() and "eci-dev-data: DELETE_COMPLETE" in out.getvalue()


def test_the_parameters_of_the_projects_templates_are_read_despite_cloudformation_tags() -> None:
    infra = Path(__file__).resolve().parents[2] / "infra"

    assert {"Stage"} <= template_parameters((infra / "data.yaml").read_text(encoding="utf-8"))
    assert template_parameters((infra / "stream-failures.yaml").read_text(encoding="utf-8")) == {"Stage"}
    assert {"Stage", "ApiDomainName", "ApiStageName"} <= template_parameters(
        (infra / "edge.yaml").read_text(encoding="utf-8"))


def test_the_data_stack_is_protected_from_deletion_by_termination_protection(client: Any) -> None:
    stubber = Stubber(client)
    stubber.add_response("update_termination_protection", {"StackId": STACK_ID},
                         {"StackName": STACK, "EnableTerminationProtection": True})

    with stubber:
        CloudFormationStacks(client, io.StringIO(), poll_seconds=0).protect(STACK)

    stubber.assert_no_pending_responses()
