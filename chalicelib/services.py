"""The running application's parts, built once per process from the settings, each on first use.

A GET page touches only what it needs: the counter reader and, for a form, the deployment secret.
The encryption SDK is built on the first POST. Tests swap in fakes with `use()`.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chalicelib.config import Settings, initiative_file_from, settings, today_in_brussels
from chalicelib.initiative import Initiative, load_initiative
from chalicelib.signing.ports import CounterReader, StatementSealer, StatementStore
from chalicelib.web.form_token import derive_token_key

if TYPE_CHECKING:
    from chalicelib.console.actions import ConsoleContext, ExportStarter
    from chalicelib.console.charts import DailyCountsReader
    from chalicelib.console.health import HealthSource
    from chalicelib.console.records import CollectionState, CollectionStates, ConsoleStore
    from chalicelib.console.tokens import TokenVerifier
    from chalicelib.counting.ports import CountLedger, RecountStore
    from chalicelib.storage.counters import DynamoDBWithdrawalReader
    from chalicelib.storage.organiser_accounts import CognitoSignIn


def _signing_day() -> date:
    """Today as the EU's citizens count it: the day in Brussels, or ECI_TODAY (chalicelib/config.py)."""
    return today_in_brussels()


@dataclass
class Services:
    settings: Settings
    initiative: Initiative
    today: Callable[[], date] = _signing_day
    now: Callable[[], float] = time.time
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # (when it was read, the day or None): the recorded withdrawal, for collected_initiative()
    _withdrawal_read: tuple[float, date | None] | None = field(default=None, repr=False)

    @cached_property
    def _aws(self):  # type: ignore[no-untyped-def]
        from chalicelib.storage.clients import AwsClients

        return AwsClients(self.settings)

    @cached_property
    def counters(self) -> CounterReader:
        """The counts, read from DynamoDB at most once per cache period however many views arrive."""
        from chalicelib.counting.cached_reader import CachedCounterReader
        from chalicelib.storage.counters import DynamoDBCounterReader

        reader = DynamoDBCounterReader(self._aws.dynamodb, self.settings.counters_table)
        return CachedCounterReader(reader, self.settings.counts_cache_seconds, clock=self.now)

    @cached_property
    def store(self) -> StatementStore:
        from chalicelib.storage.statements import DynamoDBStatementStore

        return DynamoDBStatementStore(self._aws.dynamodb, self.settings.statements_table)

    @cached_property
    def count_ledger(self) -> CountLedger:
        """The count function's counters, progress markers and dead letters."""
        from chalicelib.storage.counter_writer import DynamoDBCountLedger

        return DynamoDBCountLedger(self._aws.dynamodb, self.settings.counters_table, clock=self.now)

    @cached_property
    def recount_store(self) -> RecountStore:
        from chalicelib.storage.recount_store import DynamoDBRecountStore

        return DynamoDBRecountStore(self._aws.dynamodb, self.settings.statements_table, self.settings.counters_table)

    @cached_property
    def sealer(self) -> StatementSealer:
        from chalicelib.storage.encryption import KmsStatementSealer

        return KmsStatementSealer(
            self.statements_key_arn,
            self._aws.botocore_session,
            max_age_seconds=self.settings.encryption_cache_max_age_seconds,
            max_messages=self.settings.encryption_cache_max_messages,
        )

    @cached_property
    def statements_key_arn(self) -> str:
        """The statements key's ARN: the encryption SDK's strict provider takes ARNs, config may name an alias."""
        configured = self.settings.statements_key
        if not configured.startswith("alias/"):
            return configured
        arn: str = self._aws.kms.describe_key(KeyId=configured)["KeyMetadata"]["Arn"]
        return arn

    @cached_property
    def fingerprint_key(self) -> bytes:
        """The deployment's secret, unwrapped by KMS once per process, never per statement."""
        from chalicelib.storage.fingerprint_key import load_fingerprint_key

        with self._lock:
            return load_fingerprint_key(self._aws.ssm, self._aws.kms, self.settings.fingerprint_key_parameter)

    @cached_property
    def form_token_key(self) -> bytes:
        return derive_token_key(self.fingerprint_key)

    # --- the organisers' console ------------------------------------------------------------------------

    @cached_property
    def collection_states(self) -> CollectionStates:
        from chalicelib.console.state_cache import CachedCollectionState
        from chalicelib.storage.console_table import read_collection_state

        client, table = self._aws.dynamodb, self.settings.console_table
        return CachedCollectionState(lambda initiative_id: read_collection_state(client, table, initiative_id),
                                     self.settings.counts_cache_seconds, clock=self.now)

    def collection_state(self) -> CollectionState:
        """Paused or not: read once per counts' cache period per process, like the counts."""
        return self.collection_states.state(self.initiative.id)

    @cached_property
    def withdrawals(self) -> DynamoDBWithdrawalReader:
        from chalicelib.storage.counters import DynamoDBWithdrawalReader

        return DynamoDBWithdrawalReader(self._aws.dynamodb, self.settings.counters_table)

    def collected_initiative(self) -> Initiative:
        """The initiative as the public pages show it: a withdrawal the operator recorded closes its
        collection from that day on, with no redeploy (read once per counts' cache period, like the pause)."""
        moment = self.now()
        kept = self._withdrawal_read
        if kept is None or not 0 <= moment - kept[0] < self.settings.counts_cache_seconds:
            try:
                kept = self._withdrawal_read = (moment, self.withdrawals.withdrawn_on(self.initiative.id))
            except Exception as error:  # the table did not answer: the last known day, else still collecting
                import logging

                logging.getLogger(__name__).warning("withdrawal unavailable: %s", type(error).__name__)
                if kept is None:
                    return self.initiative
        withdrawn = kept[1]
        return self.initiative if withdrawn is None else self.initiative.withdrawn_on(withdrawn)

    @cached_property
    def daily_counts(self) -> DailyCountsReader | None:
        """Statements counted per day and Member State, once the counting path provides them (issue #10)."""
        from chalicelib.storage.counters import DynamoDBCounterReader

        reader = DynamoDBCounterReader(self._aws.dynamodb, self.settings.counters_table)
        return reader if hasattr(reader, "daily_counts") else None

    @cached_property
    def organiser_tokens(self) -> TokenVerifier:
        from chalicelib.console.tokens import TokenVerifier, fetch_keys
        from chalicelib.storage.console_table import session_signed_out

        url = self.settings.organiser_keys_url
        client, table = self._aws.dynamodb, self.settings.console_table
        return TokenVerifier(self.settings.organiser_token_issuer if self.settings.organiser_user_pool_id else "",
                             self.settings.organiser_client_id, lambda: fetch_keys(url), clock=self.now,
                             signed_out=lambda session_id: session_signed_out(client, table, session_id))

    @cached_property
    def organiser_sign_in(self) -> CognitoSignIn:
        from chalicelib.storage.organiser_accounts import CognitoSignIn

        return CognitoSignIn(self._aws.cognito, self.settings.organiser_client_id)

    @cached_property
    def console_store(self) -> ConsoleStore:
        from chalicelib.storage.console_table import DynamoDBConsoleStore

        return DynamoDBConsoleStore(self._aws.dynamodb, self.settings.console_table)

    @cached_property
    def health_source(self) -> HealthSource:
        """The export's and the recount's records, and the count failure queue's depth (console function)."""
        from chalicelib.storage.console_table import ConsoleHealthSource

        return ConsoleHealthSource(self._aws.dynamodb, self.settings.console_table, self._aws.sqs,
                                   self.settings.count_failure_queue)

    def record_recount(self, report: Any) -> None:
        """Keep what a recount run found for the dashboard; best effort: the repair is done either way, and
        a record not written shows on the dashboard as an old last check."""
        import logging
        from datetime import UTC, datetime

        from chalicelib.console.health import recount_record
        from chalicelib.storage.console_table import DynamoDBHealthRecords

        try:
            DynamoDBHealthRecords(self._aws.dynamodb, self.settings.console_table).record_recount(
                self.initiative.id, recount_record(report, datetime.fromtimestamp(self.now(), UTC)))
        except Exception as error:
            logging.getLogger(__name__).warning("recount record not written (%s)", type(error).__name__)

    def console_context(self) -> ConsoleContext:
        from chalicelib.console.actions import ConsoleContext
        from chalicelib.storage.statement_deletion import DynamoDBStatementDeleter

        return ConsoleContext(self.initiative.id, self.organiser_tokens, self.console_store,
                              deleter=DynamoDBStatementDeleter(self._aws.dynamodb, self.settings.statements_table),
                              health=self.health_source, exports=self._export_starter)

    @cached_property
    def _export_starter(self) -> ExportStarter:
        """The export function (invoked on AWS; in this process on `make run`) starting a run for the console,
        on this process's settings, clients and clock."""
        from datetime import UTC, datetime

        from chalicelib.jobs import Jobs

        return Jobs(self.settings, self.initiative, today=self.today, aws=self._aws,
                    now=lambda: datetime.fromtimestamp(self.now(), UTC).replace(microsecond=0))

    def console(self, request: dict[str, object]) -> dict[str, Any]:
        """Run a console action where it runs: the console_actions function, or here (make run, tests)."""
        if self.settings.console_actions == "in-process":
            from chalicelib.console.actions import perform

            return perform(self.console_context(), request)
        import json

        response = self._aws.lambda_.invoke(FunctionName=self.settings.console_function,
                                            Payload=json.dumps(request).encode("utf-8"))
        answer: dict[str, Any] = json.loads(response["Payload"].read())
        if "FunctionError" in response or not isinstance(answer, dict):
            return {"ok": False, "refusal": "unavailable"}
        return answer


@lru_cache(maxsize=4)
def _initiative(path: Path) -> Initiative:
    return load_initiative(path)


def check_initiative_file() -> Initiative:
    """Load and check the organiser's initiative file; raises InitiativeFileError listing every problem."""
    return _initiative(initiative_file_from(os.environ))


_current: Services | None = None
_current_lock = threading.Lock()


def current() -> Services:
    global _current
    with _current_lock:
        if _current is None:
            configured = settings()
            _current = Services(configured, _initiative(configured.initiative_file))
        return _current


def use(services: Services | None) -> None:
    """Replace the process's services (tests), or forget them so the next use rebuilds from settings."""
    global _current
    with _current_lock:
        _current = services
