"""A moto server in a child process, so its CPU time never counts in the benchmark's process_time."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from bench import BenchError, progress
from chalicelib.config import Settings
from chalicelib.local.moto_server import apply_environment, moto_environment
from chalicelib.local.provision import local_clients, provision
from chalicelib.local.system_process import free_port

HOST = "127.0.0.1"
_START_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class MotoProcess:
    endpoint_url: str
    pid: int


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((HOST, port)) == 0


_PATCHED_MOTO_SERVER = (
    "import sys\n"
    "from chalicelib.local import moto_rollback, moto_shard_iterators\n"
    "moto_rollback.install()\n"
    "moto_shard_iterators.install()\n"
    "from moto.server import main\n"
    "main(sys.argv[1:])\n"
)


@contextmanager
def moto_server() -> Iterator[MotoProcess]:
    """Run moto's server on a free port until the block ends; stop only that process.

    It is the moto `make run` uses, with the local system's fixes (transactions that cost what they write,
    not a copy of the whole table: chalicelib/local/moto_rollback.py), so that counting's transactions on a
    table that grows are measured, not moto's copying."""
    port = free_port()
    # A fixed argument list with our own interpreter: no shell, no untrusted input.
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", _PATCHED_MOTO_SERVER, "-H", HOST, "-p", str(port)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,  # one log line per request would drown the progress notes
    )
    try:
        deadline = time.monotonic() + _START_TIMEOUT_SECONDS
        while not _listening(port):
            if process.poll() is not None:
                raise BenchError(f"moto server exited with status {process.returncode} before listening")
            if time.monotonic() > deadline:
                raise BenchError(f"moto server did not listen on port {port} within {_START_TIMEOUT_SECONDS} s")
            time.sleep(0.1)
        progress(f"moto server (pid {process.pid}) listening on port {port}")
        yield MotoProcess(endpoint_url=f"http://{HOST}:{port}", pid=process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def provisioned_settings(moto: MotoProcess, stage: str = "bench") -> Settings:
    """Point this process's AWS SDKs at the moto server, build infra/data.yaml there, return the settings."""
    apply_environment(moto_environment(moto.endpoint_url))
    environment = provision(moto.endpoint_url, stage=stage)
    return Settings.from_environ({**os.environ, **environment})


class TableReset:
    """Empties a table on moto by dropping and re-creating it, through a client of its own (not counted).

    moto deep-copies the whole table on every TransactWriteItems (to roll back on failure), once per
    item in the transaction, and keeps every stream record: its time per statement grows with the
    table, and at a thousand statements one write passes botocore's read timeout. DynamoDB does not
    behave so. Benchmarks that write many statements reset the table every few dozen to stay in
    moto's linear range.
    """

    def __init__(self, moto: MotoProcess, settings: Settings, table_name: str) -> None:
        self._dynamodb: Any = local_clients(moto.endpoint_url, settings.region).dynamodb
        self._table = table_name
        description = self._dynamodb.describe_table(TableName=table_name)["Table"]
        self._definition: dict[str, Any] = {
            "TableName": table_name,
            "KeySchema": description["KeySchema"],
            "AttributeDefinitions": description["AttributeDefinitions"],
            "BillingMode": "PAY_PER_REQUEST",
        }
        stream = description.get("StreamSpecification")
        if stream:
            self._definition["StreamSpecification"] = stream

    def __call__(self) -> None:
        self._dynamodb.update_table(TableName=self._table, DeletionProtectionEnabled=False)
        self._dynamodb.delete_table(TableName=self._table)
        self._dynamodb.create_table(**self._definition)
