"""Run in a fresh interpreter by bench.import_time: serve GET / and GET /sign/PL, then report on stdout
how many encryption SDK modules the process loaded (the design says GET pages must not pay for it).

The app is wired to in-memory fakes (counters, a fixed fingerprint key), so nothing here reaches AWS.
"""

from __future__ import annotations

import sys
from functools import cached_property

from chalice.test import Client

import app as app_module
from bench.identities import SIGNING_DAY
from chalicelib import services
from chalicelib.config import Settings
from chalicelib.console.records import CollectionState
from chalicelib.signing.ports import CounterReader
from tests.fakes import InMemoryCounterReader

SDK_PACKAGE = "aws_encryption_sdk"
_PAGES = ("/?lang=en", "/sign/PL?lang=en")


class InMemoryServices(services.Services):
    """The app's services with the two parts a GET page needs replaced by fakes."""

    @cached_property
    def counters(self) -> CounterReader:
        return InMemoryCounterReader({"PL": 3, "DE": 4})

    @cached_property
    def fingerprint_key(self) -> bytes:
        return bytes(range(32))  # a fixed made-up key: only the form token is derived from it here

    @cached_property
    def collection_states(self) -> _Collecting:  # the organisers' pause: never paused here
        return _Collecting()


class _Collecting:
    def state(self, initiative_id: str) -> CollectionState:
        return CollectionState()


def sdk_modules() -> list[str]:
    return [name for name in sys.modules if name == SDK_PACKAGE or name.startswith(SDK_PACKAGE + ".")]


def configure_in_memory_services() -> None:
    configured = Settings.from_environ(
        {
            "STATEMENTS_TABLE": "bench-statements",
            "COUNTERS_TABLE": "bench-counters",
            "STATEMENTS_KEY": "arn:aws:kms:eu-central-1:123456789012:key/00000000-0000-0000-0000-000000000000",
            "FINGERPRINT_KEY_PARAMETER": "/eci/bench/fingerprint-key",
        }
    )
    services.use(InMemoryServices(configured, services.check_initiative_file(), today=lambda: SIGNING_DAY))


def main() -> None:
    configure_in_memory_services()
    with Client(app_module.app) as client:
        for path in _PAGES:
            response = client.http.get(path)
            if response.status_code != 200:
                sys.exit(f"GET {path} answered {response.status_code}, not 200: nothing to measure")
            if path.startswith("/sign/") and b'name="form_token"' not in response.body:
                sys.exit(f"GET {path} did not serve the open form")
    print(len(sdk_modules()))


if __name__ == "__main__":
    main()
