"""The statements table's restorable copies: point-in-time recovery and on-demand backups.

A restore point or a backup taken before the purge holds every statement and duplicate marker the purge
destroyed, and the key that sealed them is kept: under Art. 19 Reg. 2019/788 it is a copy that must go
too. So at the deadline the purge disables point-in-time recovery (AWS then drops its restore points:
a later re-enable starts a new window, which holds nothing from before it) and deletes the table's
backups made before the purge finished. Backups that AWS Backup made (type AWS_BACKUP) can only be
deleted in AWS Backup: they are reported, every day, until someone does.

The table is shared by the initiatives of one deployment: disabling point-in-time recovery takes the
restore points of the others too. The purge runs once per initiative; `make deploy` does not re-enable
recovery by itself (CloudFormation applies only changes to its template), see the README.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from chalicelib.exporting.retention import RestorableCopies

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

POINT_IN_TIME_RECOVERY = "point-in-time recovery"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class DynamoDBBackupPurger:
    """BackupPurger on the statements table."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def destroy_restorable_before(self, moment: datetime) -> RestorableCopies:
        destroyed: list[str] = []
        left: list[str] = []
        if self._recovery_reaches_before(_aware(moment)):
            self._client.update_continuous_backups(
                TableName=self._table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False}
            )
            destroyed.append(POINT_IN_TIME_RECOVERY)
        request: dict[str, Any] = {"TableName": self._table, "BackupType": "ALL"}
        while True:
            page = self._client.list_backups(**request)
            for backup in page.get("BackupSummaries", []):
                made = backup.get("BackupCreationDateTime")
                if made is not None and _aware(made) >= _aware(moment):
                    continue  # made after the purge: it holds nothing the purge destroyed
                name = f"backup {backup.get('BackupName', '?')}"
                if backup.get("BackupType") == "AWS_BACKUP":
                    left.append(f"{name} (AWS Backup: delete its recovery point in AWS Backup)")
                elif backup.get("BackupStatus") != "DELETED":
                    self._client.delete_backup(BackupArn=backup["BackupArn"])
                    destroyed.append(name)
            if not page.get("LastEvaluatedBackupArn"):
                break
            request["ExclusiveStartBackupArn"] = page["LastEvaluatedBackupArn"]
        return RestorableCopies(tuple(destroyed), tuple(left))

    def _recovery_reaches_before(self, moment: datetime) -> bool:
        described = self._client.describe_continuous_backups(TableName=self._table)
        recovery = described["ContinuousBackupsDescription"].get("PointInTimeRecoveryDescription", {})
        if recovery.get("PointInTimeRecoveryStatus") != "ENABLED":
            return False
        earliest = recovery.get("EarliestRestorableDateTime")
        return earliest is None or _aware(earliest) < moment
