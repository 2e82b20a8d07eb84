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
from typing import TYPE_CHECKING

from chalicelib.config import Settings, initiative_file_from, settings, today_in_brussels
from chalicelib.initiative import Initiative, load_initiative
from chalicelib.signing.ports import CounterReader, StatementSealer, StatementStore
from chalicelib.web.form_token import derive_token_key

if TYPE_CHECKING:
    from chalicelib.counting.ports import CountLedger, RecountStore


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
