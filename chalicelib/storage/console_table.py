"""The console table: the audit log and the collection's state (chalicelib.console.records).

Layout (keys pk/sk, strings):

* audit entry: pk ``AUDIT#{initiative_id}``, sk ``{at}#{random id}``; written with attribute_not_exists,
  so an entry is never replaced; the console's IAM policy has no UpdateItem or DeleteItem on the table.
* collection state: pk ``STATE#{initiative_id}``, sk ``STATE``; replaced on condition of its version.
* occasion: pk ``AUDIT#{initiative_id}#ONCE``, sk the occasion (``export_started#{run id}``): written with
  attribute_not_exists in the same transaction as the occasion's audit entry, so two starts of one export
  run (a retried or duplicated invocation) leave one entry.
* signed-out session: pk ``SIGNED_OUT#{session id}`` (the token's origin_jti, a random id), sk ``SESSION``,
  ``signed_out_at`` and ``expires_at`` (epoch seconds, the table's TTL attribute): kept until the token
  could no longer be accepted anyway, then DynamoDB removes it. Written with its audit entry.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from chalicelib.console.records import AuditEntry, CollectionState

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

    from chalicelib.console.health import RecountRecord, RunSummary

AUDIT_PREFIX = "AUDIT#"
STATE_PREFIX = "STATE#"
STATE_SORT_KEY = "STATE"
ONCE_SUFFIX = "#ONCE"  # initiative ids have no "#" (chalicelib/initiative.py), so this is no initiative's log

logger = logging.getLogger(__name__)


SIGNED_OUT_PREFIX = "SIGNED_OUT#"
SIGNED_OUT_SORT_KEY = "SESSION"
EXPIRES_AT = "expires_at"  # the table's TTL attribute (infra/data.yaml); only signed-out sessions have it


def signed_out_key(session_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"{SIGNED_OUT_PREFIX}{session_id}"}, "sk": {"S": SIGNED_OUT_SORT_KEY}}


def session_signed_out(client: DynamoDBClient, table: str, session_id: str) -> bool:
    """One strongly consistent GetItem, of the key only: a sign-out counts from the moment it is written."""
    item = client.get_item(TableName=table, Key=signed_out_key(session_id), ConsistentRead=True,
                           ProjectionExpression="pk").get("Item")
    return item is not None


def state_key(initiative_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"{STATE_PREFIX}{initiative_id}"}, "sk": {"S": STATE_SORT_KEY}}


def read_collection_state(client: DynamoDBClient, table: str, initiative_id: str) -> CollectionState:
    """One strongly consistent GetItem; no item is the state of a new initiative (collecting)."""
    item = client.get_item(TableName=table, Key=state_key(initiative_id), ConsistentRead=True).get("Item")
    if not item:
        return CollectionState()
    return CollectionState(paused=item.get("paused", {}).get("BOOL", False),
                           version=int(item.get("version", {}).get("N", "0")),
                           changed_at=item.get("changed_at", {}).get("S", ""),
                           phase=item.get("phase", {}).get("S", ""))


class DynamoDBConsoleStore:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def audit_put(self, initiative_id: str, entry: AuditEntry) -> dict[str, Any]:
        """The PutItem of an audit entry: never replaces one (its key is new, and the condition says so)."""
        return {
            "TableName": self._table,
            "Item": {
                "pk": {"S": f"{AUDIT_PREFIX}{initiative_id}"},
                "sk": {"S": f"{entry.at}#{uuid.uuid4()}"},
                "at": {"S": entry.at},
                "actor": {"S": entry.actor},
                "role": {"S": entry.role},
                "action": {"S": entry.action},
                "details": {"M": {key: {"S": value} for key, value in entry.details.items()}},
            },
            "ConditionExpression": "attribute_not_exists(pk)",
        }

    def append(self, initiative_id: str, entry: AuditEntry) -> None:
        self._client.put_item(**self.audit_put(initiative_id, entry))

    def entries(self, initiative_id: str) -> list[AuditEntry]:
        found: list[AuditEntry] = []
        for page in self._client.get_paginator("query").paginate(
            TableName=self._table, KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"{AUDIT_PREFIX}{initiative_id}"}}, ScanIndexForward=False,
        ):
            for item in page["Items"]:
                found.append(AuditEntry(
                    at=item["at"]["S"], actor=item["actor"]["S"], role=item["role"]["S"], action=item["action"]["S"],
                    details={key: value.get("S", "") for key, value in item.get("details", {}).get("M", {}).items()},
                ))
        return found

    def state(self, initiative_id: str) -> CollectionState:
        return read_collection_state(self._client, self._table, initiative_id)

    def replace_state(self, initiative_id: str, state: CollectionState, entry: AuditEntry) -> bool:
        state_put: Any = {
            "TableName": self._table,
            "Item": {**state_key(initiative_id), "paused": {"BOOL": state.paused},
                     "version": {"N": str(state.version)}, "changed_at": {"S": state.changed_at},
                     "phase": {"S": state.phase}},
            "ConditionExpression": "attribute_not_exists(pk) OR version = :previous",
            "ExpressionAttributeValues": {":previous": {"N": str(state.version - 1)}},
        }
        audit_put: Any = self.audit_put(initiative_id, entry)
        try:
            self._client.transact_write_items(TransactItems=[{"Put": state_put}, {"Put": audit_put}])
        except self._client.exceptions.TransactionCanceledException:
            return False
        return True

    def sign_out(self, initiative_id: str, session_id: str, keep_until: int, entry: AuditEntry) -> bool:
        signed_out: Any = {
            "TableName": self._table,
            "Item": {**signed_out_key(session_id), "signed_out_at": {"S": entry.at},
                     EXPIRES_AT: {"N": str(keep_until)}},
            "ConditionExpression": "attribute_not_exists(pk)",
        }
        audit_put: Any = self.audit_put(initiative_id, entry)
        try:
            self._client.transact_write_items(TransactItems=[{"Put": signed_out}, {"Put": audit_put}])
        except self._client.exceptions.TransactionCanceledException:
            return False
        return True

    def signed_out(self, session_id: str) -> bool:
        return session_signed_out(self._client, self._table, session_id)

    def append_once(self, initiative_id: str, occasion: str, entry: AuditEntry) -> bool:
        once: Any = {
            "TableName": self._table,
            "Item": {"pk": {"S": f"{AUDIT_PREFIX}{initiative_id}{ONCE_SUFFIX}"}, "sk": {"S": occasion},
                     "at": {"S": entry.at}},
            "ConditionExpression": "attribute_not_exists(pk)",
        }
        audit_put: Any = self.audit_put(initiative_id, entry)
        try:
            self._client.transact_write_items(TransactItems=[{"Put": once}, {"Put": audit_put}])
        except self._client.exceptions.TransactionCanceledException as error:
            reasons = error.response.get("CancellationReasons") or [{}]
            if reasons[0].get("Code") == "ConditionalCheckFailed":
                return False  # recorded already
            raise  # a conflict or a throttle: not recorded, and the caller must not go on as if it were
        return True


# --- the machinery's records for the dashboard (chalicelib/console/health.py) ----------------------------
#
# * export run summary: pk ``EXPORT#{initiative_id}``, sk ``{plan's created_at}#{run id}``: written by the
#   export (its IAM policy may put only EXPORT# keys), replaced as the run goes on.
# * recount: pk ``COUNTING#{initiative_id}``, sk ``LAST`` (the latest run, replaced) and ``REPAIR#{at}``
#   (each run that repaired something): written by the recount (only COUNTING# keys).
# Each holds its record as JSON in ``record``: numbers, codes, times; nothing personal.

EXPORT_PREFIX = "EXPORT#"
COUNTING_PREFIX = "COUNTING#"
LAST_RECOUNT = "LAST"
REPAIR_PREFIX = "REPAIR#"


class DynamoDBHealthRecords:
    """The export's run summaries and the recount's records in the console table."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def _put(self, pk: str, sk: str, record: Mapping[str, Any]) -> None:
        self._client.put_item(TableName=self._table, Item={
            "pk": {"S": pk}, "sk": {"S": sk}, "record": {"S": json.dumps(record, sort_keys=True)}})

    def _records(self, pk: str, limit: int, sk_prefix: str = "") -> list[dict[str, Any]]:
        request: Any = {"TableName": self._table, "KeyConditionExpression": "pk = :pk",
                        "ExpressionAttributeValues": {":pk": {"S": pk}}, "ScanIndexForward": False,
                        "Limit": limit}
        if sk_prefix:
            request["KeyConditionExpression"] += " AND begins_with(sk, :prefix)"
            request["ExpressionAttributeValues"][":prefix"] = {"S": sk_prefix}
        items = self._client.query(**request).get("Items", [])
        return [json.loads(item["record"]["S"]) for item in items if "record" in item]

    def record_run(self, initiative_id: str, summary: RunSummary) -> None:
        self._put(f"{EXPORT_PREFIX}{initiative_id}", f"{summary.started_at}#{summary.run_id}", summary.to_json())

    def export_runs(self, initiative_id: str, limit: int) -> list[RunSummary]:
        from chalicelib.console.health import RunSummary

        return [RunSummary.from_json(record) for record in self._records(f"{EXPORT_PREFIX}{initiative_id}", limit)]

    def record_recount(self, initiative_id: str, record: RecountRecord) -> None:
        pk = f"{COUNTING_PREFIX}{initiative_id}"
        if record.repaired:
            self._put(pk, f"{REPAIR_PREFIX}{record.at}", record.to_json())
        self._put(pk, LAST_RECOUNT, record.to_json())

    def last_recount(self, initiative_id: str) -> RecountRecord | None:
        from chalicelib.console.health import RecountRecord

        item = self._client.get_item(TableName=self._table, Key={
            "pk": {"S": f"{COUNTING_PREFIX}{initiative_id}"}, "sk": {"S": LAST_RECOUNT}}).get("Item")
        return RecountRecord.from_json(json.loads(item["record"]["S"])) if item and "record" in item else None

    def repairs(self, initiative_id: str, limit: int) -> list[RecountRecord]:
        from chalicelib.console.health import RecountRecord

        return [RecountRecord.from_json(record)
                for record in self._records(f"{COUNTING_PREFIX}{initiative_id}", limit, REPAIR_PREFIX)]


class ConsoleHealthSource(DynamoDBHealthRecords):
    """HealthSource: the records above, and the count function's failure queue's depth (SQS)."""

    def __init__(self, client: DynamoDBClient, table_name: str, sqs: Any, failure_queue: str) -> None:
        super().__init__(client, table_name)
        self._sqs = sqs
        self._queue = failure_queue

    def failed_batches(self) -> int | None:
        try:
            url = self._sqs.get_queue_url(QueueName=self._queue)["QueueUrl"]
            attributes = self._sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
            return int(attributes["ApproximateNumberOfMessages"])
        except Exception as error:  # no queue (a stage without it) or no answer: the page says "unknown"
            logger.warning("count failure queue %s unreadable: %s", self._queue, type(error).__name__)
            return None
