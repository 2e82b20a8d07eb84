"""CPU per statement on the POST path: validate, fingerprint, seal, store, render the receipt page.

The store is in memory, so no network time is counted; the sealer is real and reaches KMS on the moto
server, which runs in another process so that its CPU is not in this process's process_time. What
remains is the client's own cost, KMS round trips included (serialising, signing, parsing): that is
the price of one KMS call per statement in the naive baseline, so it belongs in its figure.
"""

from __future__ import annotations

import secrets
import statistics
import time
from dataclasses import dataclass, field
from datetime import date

from bench import BenchError, Figure, progress
from bench.identities import LANGUAGE, SIGNING_DAY, submission
from chalicelib import services
from chalicelib.config import Settings
from chalicelib.initiative import Initiative
from chalicelib.rules.member_states import member_state
from chalicelib.signing.form import form_spec
from chalicelib.signing.ports import FormNonce, StatementRecord, StatementSealer, StatementStore
from chalicelib.signing.submit import submit_statement
from chalicelib.storage.clients import AwsClients
from chalicelib.storage.fingerprint_key import load_fingerprint_key
from chalicelib.web import i18n
from chalicelib.web.pages import PageContext, receipt_page
from tests.fakes import InMemoryStatementStore

STATEMENTS = 1_000
WARM_UP = 50
# The naive sealer signs every message (ECDSA P-384) and calls KMS each time, yet stays fast enough for as many.
NAIVE_STATEMENTS = STATEMENTS
NAIVE_WARM_UP = 10

# Disjoint blocks of made-up people per run, so no run meets another's duplicates.
DESIGN_FIRST_INDEX = 0
NAIVE_FIRST_INDEX = 1_000_000


@dataclass
class RecordingStore:
    """Passes statements to a real store and counts what it refused, to prove no run hit a duplicate."""

    inner: StatementStore
    stored: int = 0
    refused: int = 0

    def add(self, record: StatementRecord, fingerprint: str, nonce: FormNonce | None = None) -> bool:
        added = self.inner.add(record, fingerprint, nonce)
        if added:
            self.stored += 1
        else:
            self.refused += 1
        return added


@dataclass
class PostPath:
    """What views.submit does once the body is parsed and the form token checked."""

    initiative: Initiative
    fingerprint_key: bytes
    sealer: StatementSealer
    store: RecordingStore
    today: date = SIGNING_DAY
    language: str = LANGUAGE
    residence_countries: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        self.residence_countries = frozenset(iso for iso, _ in i18n.country_names(self.language))

    def sign(self, index: int) -> None:
        code, fields = submission(index)
        state = member_state(code)
        if state is None:
            raise BenchError(f"unknown Member State {code}")
        result = submit_statement(
            initiative=self.initiative,
            spec=form_spec(state),
            submitted=fields,
            form_language=self.language,
            today=self.today,
            residence_countries=self.residence_countries,
            fingerprint_key=self.fingerprint_key,
            sealer=self.sealer,
            store=self.store,
            # Each form's nonce goes into the statement's transaction, as views.submit passes it.
            nonce=FormNonce(secrets.token_urlsafe(9), int(time.time()) + 7200),
        )
        if result.receipt is None:
            codes = sorted({error.code for error in result.validation.errors})
            raise BenchError(f"made-up statement number {index} ({code}) was refused: {codes}")
        page = receipt_page(
            PageContext(self.language, self.initiative, self.today, f"/sign/{code}"), state, result.receipt
        )
        if page.status_code != 200:
            raise BenchError(f"the receipt page answered {page.status_code}")

    def check_all_stored(self, expected: int) -> None:
        if self.store.refused or self.store.stored != expected:
            raise BenchError(f"stored {self.store.stored} of {expected} statements, refused {self.store.refused}")


def design_sealer(settings: Settings, clients: AwsClients) -> StatementSealer:
    """The sealer services.Services builds: caching materials manager, non-signing committing suite."""
    from chalicelib.storage.encryption import KmsStatementSealer

    return KmsStatementSealer(
        settings.statements_key,
        clients.botocore_session,
        max_age_seconds=settings.encryption_cache_max_age_seconds,
        max_messages=settings.encryption_cache_max_messages,
    )


def naive_sealer(settings: Settings, clients: AwsClients) -> StatementSealer:
    """The baseline: the SDK's default signing suite and one KMS GenerateDataKey per statement."""
    from chalicelib.storage.encryption import NaiveStatementSealer

    return NaiveStatementSealer(settings.statements_key, clients.botocore_session)


def cpu_per_statement_ms(path: PostPath, first_index: int, count: int, warm_up: int) -> float:
    """Median process CPU time of one statement, after `warm_up` statements (templates, cache, clients)."""
    for index in range(first_index, first_index + warm_up):
        path.sign(index)
    times: list[int] = []
    for index in range(first_index + warm_up, first_index + warm_up + count):
        start = time.process_time_ns()
        path.sign(index)
        times.append(time.process_time_ns() - start)
    path.check_all_stored(warm_up + count)
    return statistics.median(times) / 1e6


def figures(settings: Settings) -> list[Figure]:
    clients = AwsClients(settings)
    key = load_fingerprint_key(clients.ssm, clients.kms, settings.fingerprint_key_parameter)
    initiative = services.check_initiative_file()
    results: list[Figure] = []
    for name, make_sealer, first, count, warm_up in (
        ("post_cpu_per_statement_ms", design_sealer, DESIGN_FIRST_INDEX, STATEMENTS, WARM_UP),
        ("post_cpu_per_statement_naive_ms", naive_sealer, NAIVE_FIRST_INDEX, NAIVE_STATEMENTS, NAIVE_WARM_UP),
    ):
        progress(f"{name}: {count} statements after {warm_up} to warm up, store in memory")
        path = PostPath(initiative, key, make_sealer(settings, clients), RecordingStore(InMemoryStatementStore()))
        results.append(Figure(name, f"{cpu_per_statement_ms(path, first, count, warm_up):.2f}", "ms"))
    return results
