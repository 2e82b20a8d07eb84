"""CloudFormation stacks for the deploy command: create or update through change sets, delete, with progress.

A change set shows what will change before anything does; an update that changes nothing is reported as
such (CloudFormation refuses it as a failed change set) rather than as an error. While a stack is being
created, updated or deleted its new events are printed as they come: botocore's stack waiters would only
say, at the end, that something failed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

# What CloudFormation says when a change set would change nothing (as a failed change set, or refused).
_NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
TEMPLATE_BODY_LIMIT = 51_200  # bytes; a larger template must come from S3


class StackError(RuntimeError):
    """A stack operation failed; the message says which stack and why, as CloudFormation gave it."""


def template_parameters(body: str) -> set[str]:
    """The parameter names a YAML or JSON template declares."""
    import yaml  # type: ignore[import-untyped, unused-ignore]  # PyYAML comes with chalice and cfn-lint

    class _Loader(yaml.SafeLoader):  # type: ignore[misc]
        pass

    # CloudFormation's short forms (!Ref, !Sub, ...) matter not here: read them as plain values.
    _Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    document = yaml.load(body, Loader=_Loader)  # noqa: S506 - a SafeLoader that ignores CloudFormation tags
    parameters = document.get("Parameters") if isinstance(document, dict) else None
    return set(parameters) if isinstance(parameters, dict) else set()


@dataclass
class CloudFormationStacks:
    """The stacks of one region. `client` is boto3's CloudFormation client for that region."""

    client: Any
    out: TextIO
    poll_seconds: float = 5.0
    sleep: Callable[[float], None] = time.sleep
    _printed: set[str] = field(default_factory=set)

    @property
    def region(self) -> str:
        region: str = self.client.meta.region_name
        return region

    def describe(self, name: str) -> dict[str, Any] | None:
        """The stack as describe_stacks gives it, or None when there is none by that name."""
        from botocore.exceptions import ClientError

        try:
            stacks: list[dict[str, Any]] = self.client.describe_stacks(StackName=name)["Stacks"]
        except ClientError as error:
            if "does not exist" in str(error):
                return None
            raise
        return stacks[0] if stacks else None

    def outputs(self, name: str) -> dict[str, str] | None:
        """The stack's outputs by key, or None when the stack does not exist."""
        stack = self.describe(name)
        if stack is None or stack["StackStatus"] in ("REVIEW_IN_PROGRESS", "DELETE_COMPLETE"):
            return None
        return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}

    def deploy(self, name: str, template: Path, parameters: Mapping[str, str]) -> dict[str, str]:
        """Create or update the stack to `template`; return its outputs.

        Parameters not given keep their previous value on an update (an organiser's own settings
        survive), or take the template's default on creation.
        """
        body = template.read_text(encoding="utf-8")
        if len(body.encode("utf-8")) > TEMPLATE_BODY_LIMIT:
            raise StackError(f"{template} is larger than CloudFormation's {TEMPLATE_BODY_LIMIT} bytes for a "
                             "template sent inline")
        declared = template_parameters(body)
        unknown = sorted(set(parameters) - declared)
        if unknown:
            raise StackError(f"{template} declares no parameter {', '.join(unknown)}")
        existing = self.describe(name)
        if existing is not None and existing["StackStatus"] == "ROLLBACK_COMPLETE":
            # A first creation that failed: such a stack cannot be updated, only replaced.
            self.out.write(f"  {name} is ROLLBACK_COMPLETE after a failed creation: deleting it first\n")
            self._delete(existing["StackId"])
            existing = None
        if existing is not None and existing["StackStatus"] == "REVIEW_IN_PROGRESS":
            existing = None  # created by a change set never executed: create it for real
        if existing is not None and existing["StackStatus"].endswith("_IN_PROGRESS"):
            raise StackError(f"stack {name} is busy ({existing['StackStatus']}); run the command again when it is not")
        updating = existing is not None
        request: list[dict[str, Any]] = [{"ParameterKey": key, "ParameterValue": value}
                                         for key, value in parameters.items()]
        if existing is not None:
            previous = {parameter["ParameterKey"] for parameter in existing.get("Parameters", [])}
            request += [{"ParameterKey": key, "UsePreviousValue": True}
                        for key in sorted((previous & declared) - set(parameters))]
        capabilities = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"] if "AWS::IAM::" in body else []
        change_set = "deploy-" + datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        from botocore.exceptions import ClientError

        try:
            created = self.client.create_change_set(
                StackName=name, TemplateBody=body, Parameters=request, Capabilities=capabilities,
                ChangeSetName=change_set, ChangeSetType="UPDATE" if updating else "CREATE",
                Description="make deploy",
            )
        except ClientError as error:
            if any(text in str(error) for text in _NO_CHANGES):
                self.out.write(f"  {name}: no changes\n")
                return self.outputs(name) or {}
            raise
        changes = self._wait_for_change_set(name, created["Id"])
        if changes is None:
            self.client.delete_change_set(ChangeSetName=created["Id"])
            self.out.write(f"  {name}: no changes\n")
            return self.outputs(name) or {}
        self.out.write(f"  {'update' if updating else 'create'} {name} ({self.region}): {len(changes)} changes\n")
        for change in changes:
            self.out.write(f"    {change}\n")
        stack_id = created["StackId"]
        self._mark_seen(stack_id)
        self.client.execute_change_set(ChangeSetName=created["Id"])
        self._wait(stack_id, "UPDATE_COMPLETE" if updating else "CREATE_COMPLETE")
        return self.outputs(stack_id) or {}

    def delete(self, name: str) -> bool:
        """Delete the stack; False when there was none. Resources with DeletionPolicy Retain stay."""
        stack = self.describe(name)
        if stack is None:
            return False
        self._delete(stack["StackId"])
        return True

    def protect(self, name: str) -> None:
        """Turn termination protection on: deleting the stack then needs it turned off first, on purpose."""
        self.client.update_termination_protection(StackName=name, EnableTerminationProtection=True)

    def _delete(self, stack_id: str) -> None:
        self._mark_seen(stack_id)
        self.client.delete_stack(StackName=stack_id)
        self._wait(stack_id, "DELETE_COMPLETE")

    def _wait_for_change_set(self, name: str, change_set_id: str) -> list[str] | None:
        """The change set's changes, one line each; None when it would change nothing."""
        from botocore.exceptions import WaiterError

        waiter = self.client.get_waiter("change_set_create_complete")
        try:
            waiter.wait(ChangeSetName=change_set_id, StackName=name,
                        WaiterConfig={"Delay": self.poll_seconds, "MaxAttempts": 120})
        except WaiterError:
            described = self.client.describe_change_set(ChangeSetName=change_set_id)
            reason = described.get("StatusReason", "")
            if any(text in reason for text in _NO_CHANGES):
                return None
            raise StackError(f"change set for stack {name} failed: {reason or described.get('Status')}") from None
        lines: list[str] = []
        request: dict[str, Any] = {"ChangeSetName": change_set_id}
        while True:
            described = self.client.describe_change_set(**request)
            for change in described.get("Changes", []):
                resource = change.get("ResourceChange", {})
                replacement = " (replaced)" if resource.get("Replacement") == "True" else ""
                lines.append(f"{resource.get('Action', '?'):<7} {resource.get('LogicalResourceId', '?')} "
                             f"({resource.get('ResourceType', '?')}){replacement}")
            if not described.get("NextToken"):
                return lines
            request["NextToken"] = described["NextToken"]

    def _wait(self, stack_id: str, success: str) -> None:
        """Print the stack's new events until it settles; raise unless it settles as `success`."""
        failures: list[str] = []
        while True:
            for event in self._new_events(stack_id):
                reason = event.get("ResourceStatusReason", "")
                status = event["ResourceStatus"]
                self.out.write(f"    {event['Timestamp']:%H:%M:%S} {status:<20} {event['LogicalResourceId']}"
                               f"{' - ' + reason if reason else ''}\n")
                if status.endswith("_FAILED") and reason:
                    failures.append(f"{event['LogicalResourceId']}: {reason}")
            stack = self.client.describe_stacks(StackName=stack_id)["Stacks"][0]
            status = stack["StackStatus"]
            if not status.endswith("_IN_PROGRESS"):
                break
            self.sleep(self.poll_seconds)
        if status != success:
            why = "; ".join(failures[:3]) or stack.get("StackStatusReason", "no reason given")
            raise StackError(f"stack {stack['StackName']} ended {status}: {why}")
        self.out.write(f"  {stack['StackName']}: {status}\n")

    def _mark_seen(self, stack_id: str) -> None:
        """Events so far are history: only those after this are printed (no clock to trust but AWS's)."""
        self._new_events(stack_id)

    def _new_events(self, stack_id: str) -> list[dict[str, Any]]:
        # The newest come first; one page (100) per poll is more than a poll's worth.
        events: list[dict[str, Any]] = self.client.describe_stack_events(StackName=stack_id)["StackEvents"]
        new = [event for event in events if event["EventId"] not in self._printed]
        self._printed.update(event["EventId"] for event in new)
        return list(reversed(new))
