"""The export and purge functions' work, wired to AWS: what app.py's schedules and Lambda function call.

* ``schedule_export``: the daily schedule's part: it only invokes the worker with the day's run id.
* ``start_export``: plan a run and fan it out, one worker invocation per Member State (on AWS), or
  export the States one after another here (``EXPORT_FAN_OUT=in-process``: moto, the operator's
  ``run --in-process``).
* ``work``: the export worker's event: ``{"action": "start", "run_id": ..., "started_by": ...}`` (the
  schedule, an operator's ``run``, the organisers' console) or
  ``{"action": "unit", "run_id": ..., "member_state": ...}``. A unit stops cleanly before the
  invocation's time runs out and invokes the worker again to go on; the unit that completes the
  last State writes the manifest.
* ``purge``: the retention clock (chalicelib/exporting/retention.py), resumed on the next run if
  it does not finish in one; after it, a sweep once a day for anything made or restored since.

A new run is written to the organisers' audit log (``export_started``, with who asked for it) before it is
planned, once per run id however often its start is delivered; a run whose start cannot be recorded does
not start.

Every export unit checks the retention clock (with the operator's recorded submission, withdrawal and
holds) before it decrypts and while it runs: past the deadline it stops and is not invoked again.

Log lines carry run ids, Member State codes and numbers, never a statement's content.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from chalicelib.config import Settings, today_in_brussels
from chalicelib.console.records import (
    EXPORT_STARTED,
    SCHEDULE_STARTER,
    UNNAMED_STARTER,
    AuditEntry,
    OccasionAuditLog,
    RunStarter,
)
from chalicelib.exporting import layout
from chalicelib.exporting.retention import (
    PurgeOutcome,
    RetentionClock,
    RetentionOverError,
    RetentionTrigger,
    TriggerRefusedError,
    purge_if_due,
    retention_clock,
    retention_over_message,
    trigger_problem,
)
from chalicelib.exporting.run import ExportRun, RunStatus
from chalicelib.initiative import Initiative

if TYPE_CHECKING:
    from chalicelib.exporting.ports import ManifestSigner, StatementOpener
    from chalicelib.storage.clients import AwsClients
    from chalicelib.storage.console_table import DynamoDBHealthRecords
    from chalicelib.storage.export_files import S3ExportFileStore
    from chalicelib.storage.retention_records import DynamoDBRetentionRecords

logger = logging.getLogger(__name__)

# A unit stops when less than this is left of its invocation: time to close and upload its open parts.
STOP_MARGIN_MS = 90_000
# Distinct statement data keys the opener keeps: every key a whole collection may have used.
OPENER_CACHE_CAPACITY = 100_000
OPENER_MAX_AGE_SECONDS = 3600.0


def brussels_today() -> date:
    """Today in Brussels, or the day ECI_TODAY names (local runs and tests: chalicelib/config.py)."""
    return today_in_brussels()


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def stop_when_low(remaining_ms: Callable[[], int] | None, margin_ms: int = STOP_MARGIN_MS) -> Callable[[], bool]:
    if remaining_ms is None:
        return lambda: False
    return lambda: remaining_ms() < margin_ms


@dataclass
class Jobs:
    settings: Settings
    initiative: Initiative
    today: Callable[[], date] = brussels_today
    now: Callable[[], datetime] = utc_now
    aws: AwsClients | None = None
    opener_factory: Callable[[], StatementOpener] | None = None  # tests and benchmarks count KMS calls
    _opener: StatementOpener | None = field(default=None, repr=False)

    @cached_property
    def clients(self) -> AwsClients:
        if self.aws is None:
            from chalicelib.storage.clients import AwsClients

            self.aws = AwsClients(self.settings)
        return self.aws

    @cached_property
    def bucket(self) -> str:
        """EXPORT_BUCKET, else the data template's name for it (it holds the account id)."""
        if self.settings.export_bucket:
            return self.settings.export_bucket
        account = self.clients.sts.get_caller_identity()["Account"]
        return f"eci-{self.settings.stage}-exports-{account}-{self.clients.region}"

    def _key_arn(self, configured: str) -> str:
        if not configured.startswith("alias/"):
            return configured
        arn: str = self.clients.kms.describe_key(KeyId=configured)["KeyMetadata"]["Arn"]
        return arn

    @cached_property
    def files(self) -> S3ExportFileStore:
        from chalicelib.storage.export_files import S3ExportFileStore, load_authority_keys

        return S3ExportFileStore(
            self.clients.s3,
            self.bucket,
            self._key_arn(self.settings.export_key),
            self.clients.botocore_session,
            load_authority_keys(self.settings.authority_keys_dir),
        )

    def opener(self) -> StatementOpener:
        """The statements' opener, made once per process: its cache of data keys serves every unit."""
        if self._opener is None:
            if self.opener_factory is not None:
                self._opener = self.opener_factory()
            else:
                from chalicelib.storage.encryption import KmsStatementOpener

                self._opener = KmsStatementOpener(
                    self._key_arn(self.settings.statements_key),
                    self.clients.botocore_session,
                    max_age_seconds=OPENER_MAX_AGE_SECONDS,
                    cache_capacity=OPENER_CACHE_CAPACITY,
                )
        return self._opener

    def manifest_signer(self) -> ManifestSigner:
        """KMS signs each run's manifest once, with the key only the export function may sign with."""
        from chalicelib.storage.manifest_signing import KmsManifestSigner

        return KmsManifestSigner(self.clients.kms, self._key_arn(self.settings.export_signing_key))

    @cached_property
    def run(self) -> ExportRun:
        from chalicelib.storage.counters import DynamoDBCounterReader
        from chalicelib.storage.statement_reader import DynamoDBStatementReader

        return ExportRun(
            self.initiative,
            source=DynamoDBStatementReader(self.clients.dynamodb, self.settings.statements_table),
            opener=self.opener,
            files=self.files,
            counts=DynamoDBCounterReader(self.clients.dynamodb, self.settings.counters_table),
            signer=self.manifest_signer,
            max_statements_per_file=self.settings.export_max_statements_per_file,
            now=self.now,
            today=self.today,
            clock=self.retention_clock,
            summaries=self.run_summaries,
        )

    @cached_property
    def run_summaries(self) -> DynamoDBHealthRecords | None:
        """Where the export tells the organisers' dashboard how its runs stand (the console table)."""
        from chalicelib.storage.console_table import DynamoDBHealthRecords

        if not self.settings.console_table:
            return None
        return DynamoDBHealthRecords(self.clients.dynamodb, self.settings.console_table)

    @cached_property
    def retention_records(self) -> DynamoDBRetentionRecords:
        from chalicelib.storage.retention_records import DynamoDBRetentionRecords

        return DynamoDBRetentionRecords(self.clients.dynamodb, self.settings.counters_table)

    def retention_clock(self) -> RetentionClock:
        """The clock from the initiative file and the operator's records (submission, withdrawal, holds)."""
        return retention_clock(self.initiative, self.retention_records.triggers(self.initiative.id))

    def record_trigger(self, kind: str, day: date, reference: str, by: str) -> RetentionClock:
        """Record the submission, a withdrawal, or a hold's start or end (the operator's tool, the console).

        Refused (TriggerRefusedError) if it cannot be true or if the purge has begun; returns the new clock.
        """
        records = self.retention_records
        if records.purge_record(self.initiative.id) is not None:
            raise TriggerRefusedError(f"the statements of {self.initiative.id} are already being destroyed: "
                                      "nothing recorded now can change that")
        trigger = RetentionTrigger(kind, day, self.now(), reference.strip(), by)
        problem = trigger_problem(self.initiative, records.triggers(self.initiative.id), trigger, self.today())
        if problem is not None:
            raise TriggerRefusedError(problem)
        records.record_trigger(self.initiative.id, trigger)
        logger.info("retention initiative=%s: %s %s recorded", self.initiative.id, kind, day)
        return self.retention_clock()

    def _dispatch(self, event: Mapping[str, object]) -> None:
        from chalicelib.storage.export_dispatch import LambdaDispatcher

        LambdaDispatcher(self.clients.lambda_, self.settings.export_worker_function).dispatch(event)

    # --- export ------------------------------------------------------------------------------------

    def schedule_export(self) -> None:
        """The daily schedule: hand the day's run to the export worker, which alone may read statements."""
        clock = self.retention_clock()
        if clock.due(self.today()):
            logger.info("export initiative=%s: retention period over since %s, nothing to export",
                        self.initiative.id, clock.due_on)
            return
        run_id = layout.scheduled_run_id(self.today())
        if self.settings.export_fan_out == "lambda":
            self._dispatch({"action": "start", "run_id": run_id, "started_by": SCHEDULE_STARTER.to_json()})
        else:
            self.start_export(run_id, started_by=SCHEDULE_STARTER)

    @cached_property
    def audit_log(self) -> OccasionAuditLog | None:
        """The organisers' audit log (the console table), where each run's start is recorded."""
        from chalicelib.storage.console_table import DynamoDBConsoleStore

        if not self.settings.console_table:
            return None
        return DynamoDBConsoleStore(self.clients.dynamodb, self.settings.console_table)

    def begin_run(self, run_id: str, started_by: RunStarter) -> RunStatus:
        """Start or resume a run. A new run is recorded in the audit log first, so none runs unrecorded."""
        layout.check_run_id(run_id)
        if self.run.manifest(run_id) is None and self.run.plan(run_id) is None:
            clock = self.retention_clock()
            if clock.due(self.today()):  # refused, so not started: nothing to record
                raise RetentionOverError(retention_over_message(self.initiative.id, clock))
            self._record_start(run_id, started_by)
        return self.run.start(run_id)

    def _record_start(self, run_id: str, started_by: RunStarter) -> None:
        if self.audit_log is None:  # a stage without the console (benchmarks, older configurations)
            logger.warning("export run=%s: no console table, so its start is not in the audit log", run_id)
            return
        entry = AuditEntry(at=self.now().astimezone(UTC).isoformat(timespec="microseconds"),
                           actor=started_by.actor, role=started_by.role, action=EXPORT_STARTED,
                           details={"run_id": run_id, "via": started_by.via})
        if not self.audit_log.append_once(self.initiative.id, f"{EXPORT_STARTED}#{run_id}", entry):
            logger.info("export run=%s: its start was recorded by an earlier delivery", run_id)

    def start_export(self, run_id: str | None = None, on_demand: bool = False,
                     started_by: RunStarter = UNNAMED_STARTER, in_background: bool = False) -> RunStatus:
        """Start (or resume) a run: the day's run for the schedule, a new one on demand.

        In-process, the States are exported here, one after another; ``in_background`` does that in a
        thread of this process (the console on `make run`: the page answers at once, as on AWS)."""
        if run_id is None:
            run_id = layout.on_demand_run_id(self.now()) if on_demand else layout.scheduled_run_id(self.today())
        status = self.begin_run(run_id, started_by)
        logger.info("export run=%s initiative=%s: %d Member States to export", run_id, self.initiative.id,
                    len(status.pending))
        if not status.pending:
            return status
        if self.settings.export_fan_out == "lambda":
            for code in status.pending:
                self._dispatch({"action": "unit", "run_id": run_id, "member_state": code})
            return status
        if in_background:
            threading.Thread(target=self._export_in_background, args=(run_id, status.pending),
                             name=f"export-{run_id}", daemon=True).start()
            return status
        return self._export_pending(run_id, status.pending)

    def _export_pending(self, run_id: str, pending: tuple[str, ...]) -> RunStatus:
        for code in pending:
            while not self.export_unit(run_id, code):
                pass
        return RunStatus(run_id, (), self.run.finish(run_id))

    def _export_in_background(self, run_id: str, pending: tuple[str, ...]) -> None:
        with _IN_PROCESS_EXPORTS:  # one run at a time: the opener's data-key cache is not shared by threads
            try:
                self._export_pending(run_id, pending)
            except Exception:  # a thread's error reaches no caller: the log and the dashboard's summary say it
                logger.exception("export run=%s: stopped", run_id)

    def start_for_console(self, started_by: RunStarter) -> dict[str, Any]:
        """An organiser's "start an export now": a new run by the export function, or here on `make run`.

        The console may not read statements, so on AWS it asks the export function, which records the start."""
        if self.settings.export_fan_out != "lambda":
            try:
                status = self.start_export(on_demand=True, started_by=started_by, in_background=True)
            except RetentionOverError:
                return {"refusal": "retention_over"}
            return {"run_id": status.run_id, "member_states": len(status.pending)}
        import json

        response = self.clients.lambda_.invoke(
            FunctionName=self.settings.export_worker_function, InvocationType="RequestResponse",
            Payload=json.dumps({"action": "start", "started_by": started_by.to_json()}).encode("utf-8"))
        answer = json.loads(response["Payload"].read() or b"{}")
        if response.get("FunctionError") or not isinstance(answer, dict):
            logger.warning("console export start: the export function failed (see its logs)")
            return {"refusal": "unavailable"}
        if answer.get("retention_over"):
            return {"refusal": "retention_over"}
        return {"run_id": str(answer.get("run_id", "")), "member_states": len(answer.get("pending") or [])}

    def export_unit(self, run_id: str, member_state: str, remaining_ms: Callable[[], int] | None = None) -> bool:
        started = time.monotonic()
        complete = self.run.export_unit(run_id, member_state, stop_when_low(remaining_ms))
        progress = self.run.progress(run_id, member_state)
        logger.info("export run=%s state=%s: %s, %d files, %d statements, %.1f s", run_id, member_state,
                    "complete" if complete else "stopped to go on", len(progress.files), progress.exported,
                    time.monotonic() - started)
        return complete

    def work(self, event: Mapping[str, Any], remaining_ms: Callable[[], int] | None = None) -> dict[str, Any]:
        """The export worker function's event (see the module's docstring)."""
        try:
            return self._work(event, remaining_ms)
        except RetentionOverError as over:
            # Not an error to retry: the statements are (being) destroyed. Nothing is invoked again.
            logger.info("export initiative=%s: stopped, %s", self.initiative.id, over)
            return {"run_id": event.get("run_id"), "member_state": event.get("member_state"), "complete": False,
                    "retention_over": True}

    def _work(self, event: Mapping[str, Any], remaining_ms: Callable[[], int] | None) -> dict[str, Any]:
        action = event.get("action")
        run_id = event.get("run_id")
        if action == "start":
            status = self.start_export(str(run_id) if run_id else None, on_demand=True,
                                       started_by=RunStarter.from_event(event.get("started_by")))
            return {"run_id": status.run_id, "pending": list(status.pending), "complete": status.manifest is not None}
        if action != "unit" or not isinstance(run_id, str) or not isinstance(event.get("member_state"), str):
            raise ValueError("an export worker event is {action: start|unit, run_id, member_state}")
        code = str(event["member_state"])
        if self.export_unit(run_id, code, remaining_ms):
            manifest = self.run.finish(run_id)
            if manifest is not None:
                logger.info("export run=%s: manifest signed and written, reconciled=%s, statements left out=%d",
                            run_id, manifest["reconciled"], len(manifest.get("left_out", [])))
            return {"run_id": run_id, "member_state": code, "complete": True}
        self._dispatch({"action": "unit", "run_id": run_id, "member_state": code})
        return {"run_id": run_id, "member_state": code, "complete": False}

    # --- purge -------------------------------------------------------------------------------------

    def purge(self, remaining_ms: Callable[[], int] | None = None) -> PurgeOutcome:
        from chalicelib.storage.export_files import S3ExportPurger
        from chalicelib.storage.statement_purger import DynamoDBStatementPurger
        from chalicelib.storage.table_backups import DynamoDBBackupPurger

        outcome = purge_if_due(
            self.initiative,
            today=self.today(),
            now=self.now,
            statements=DynamoDBStatementPurger(self.clients.dynamodb, self.settings.statements_table),
            exports=S3ExportPurger(self.clients.s3, self.bucket),
            backups=DynamoDBBackupPurger(self.clients.dynamodb, self.settings.statements_table),
            records=self.retention_records,
            should_stop=stop_when_low(remaining_ms),
        )
        if outcome.state in ("not-due", "already-done"):
            return outcome
        summary = (f"purge initiative={self.initiative.id} due={outcome.due_on}: {outcome.state}, "
                   f"statements={sum(outcome.statements.values())} markers={outcome.markers} "
                   f"export objects={outcome.export_objects} backups destroyed={len(outcome.backups.destroyed)}")
        if outcome.state == "swept" and outcome.found_anything:
            # Something held statements after the purge had completed: destroyed now, and worth a look.
            logger.warning("%s: found after the purge had completed", summary)
        else:
            logger.info("%s", summary)
        for left in outcome.backups.left:
            logger.error("purge initiative=%s: a restorable copy is left, %s", self.initiative.id, left)
        return outcome


_current: Jobs | None = None
_IN_PROCESS_EXPORTS = threading.Lock()


def current() -> Jobs:
    """The process's jobs, built on first use from the settings and the initiative file."""
    global _current
    if _current is None:
        from chalicelib import services

        running = services.current()
        _current = Jobs(running.settings, running.initiative)
    return _current


def use(jobs: Jobs | None) -> None:
    """Replace the process's jobs (tests), or forget them."""
    global _current
    _current = jobs
