"""AWS API calls per statement through the real DynamoDB store and KMS sealers, on the moto server.

Counts come from a botocore 'before-call' hook on the session the app's clients and the encryption
SDK's KMS clients are made from: one event per API call (botocore's own retries are not extra calls).

The counts include the process's cold start: loading the fingerprint key costs one KMS Decrypt (and
one SSM GetParameter, not in these two figures). The figures are that plus the statements' calls,
divided by the number of statements: what one process that signs STATEMENTS statements really makes.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bench import Figure, progress
from bench.moto_process import MotoProcess, TableReset
from bench.post_path import PostPath, RecordingStore, design_sealer, naive_sealer
from chalicelib import services
from chalicelib.config import Settings
from chalicelib.signing.ports import StatementSealer
from chalicelib.storage.clients import AwsClients
from chalicelib.storage.fingerprint_key import load_fingerprint_key
from chalicelib.storage.statements import DynamoDBStatementStore

if TYPE_CHECKING:
    import botocore.session

STATEMENTS = 1_000
RESET_EVERY = 25
# Disjoint blocks of made-up people: a repeat would be refused as a duplicate and measure another path.
DESIGN_FIRST_INDEX = 2_000_000
NAIVE_FIRST_INDEX = 3_000_000


class ApiCallCounter:
    """API calls per service made by every client created from the session after this is attached.

    botocore copies the session's event handlers into each client when it is created, so attach first.
    """

    def __init__(self, session: botocore.session.Session) -> None:
        self.calls: Counter[str] = Counter()
        session.register("before-call", self._count)

    def _count(self, **kwargs: Any) -> None:
        # The event is named before-call.<service>.<Operation>.
        self.calls[str(kwargs["event_name"]).split(".")[1]] += 1


@dataclass(frozen=True)
class Run:
    statements: int
    calls: Counter[str]
    seconds: float  # wall time of the statements alone, cold start excluded

    def per_statement(self, service: str) -> str:
        return f"{self.calls[service] / self.statements:.3f}"


def run_on_moto(
    settings: Settings,
    make_sealer: Callable[[Settings, AwsClients], StatementSealer],
    first_index: int,
    reset_table: Callable[[], None],
    count: int = STATEMENTS,
) -> Run:
    """A fresh process's worth of clients: cold start (fingerprint key, sealer), then `count` statements.

    The table is emptied every RESET_EVERY statements (see bench.moto_process.TableReset), by a client
    that is not counted and outside the timed stretches.
    """
    clients = AwsClients(settings)
    counter = ApiCallCounter(clients.botocore_session)
    key = load_fingerprint_key(clients.ssm, clients.kms, settings.fingerprint_key_parameter)
    store = RecordingStore(DynamoDBStatementStore(clients.dynamodb, settings.statements_table))
    path = PostPath(services.check_initiative_file(), key, make_sealer(settings, clients), store)
    seconds = 0.0
    for chunk_start in range(first_index, first_index + count, RESET_EVERY):
        reset_table()
        start = time.perf_counter()
        for index in range(chunk_start, min(chunk_start + RESET_EVERY, first_index + count)):
            path.sign(index)
        seconds += time.perf_counter() - start
    path.check_all_stored(count)
    others = sorted(set(counter.calls) - {"dynamodb", "kms"})
    if others:
        progress(f"also called: {', '.join(f'{name} x{counter.calls[name]}' for name in others)}")
    return Run(count, counter.calls, seconds)


def figures(moto: MotoProcess, settings: Settings) -> list[Figure]:
    reset_table = TableReset(moto, settings, settings.statements_table)
    progress(f"AWS calls: {STATEMENTS} statements through DynamoDB and KMS on moto, design sealer")
    design = run_on_moto(settings, design_sealer, DESIGN_FIRST_INDEX, reset_table)
    progress(f"AWS calls: {STATEMENTS} statements through DynamoDB and KMS on moto, naive sealer")
    naive = run_on_moto(settings, naive_sealer, NAIVE_FIRST_INDEX, reset_table)
    return [
        # Cold-start calls included (see the module's docstring).
        Figure("dynamodb_calls_per_statement", design.per_statement("dynamodb"), "calls"),
        Figure("kms_calls_per_statement", design.per_statement("kms"), "calls"),
        Figure("dynamodb_calls_per_statement_naive", naive.per_statement("dynamodb"), "calls"),
        Figure("kms_calls_per_statement_naive", naive.per_statement("kms"), "calls"),
        # moto's pace, not DynamoDB's: one server thread, a deep copy of the table per transaction
        # (kept to RESET_EVERY statements), sharing this machine's two cores with the client.
        Figure("post_statements_per_second_on_moto", f"{design.statements / design.seconds:.0f}", "statements/s"),
    ]
