"""GET pages must not pay for the encryption SDK: Chalice runs every route in one Lambda."""

from __future__ import annotations

import subprocess
import sys

from chalicelib.config import PROJECT_ROOT

_GET_PAGES_IN_A_FRESH_INTERPRETER = """
import sys
from datetime import date
from chalice.test import Client
import app
from chalicelib import services
from chalicelib.config import Settings

class NoCounts:  # not tests.fakes: its export fakes would load the very modules this test looks for
    def counts(self, initiative_id):
        return {}

class NoWithdrawal:
    def withdrawn_on(self, initiative_id):
        return None

settings = Settings.from_environ({"STATEMENTS_TABLE": "s", "COUNTERS_TABLE": "c", "STATEMENTS_KEY": "arn",
                                  "FINGERPRINT_KEY_PARAMETER": "p"})
current = services.Services(settings, services.check_initiative_file(), today=lambda: date(2026, 11, 27))
current.__dict__.update(counters=NoCounts(), withdrawals=NoWithdrawal(), fingerprint_key=b"k" * 32)
services.use(current)
assert "boto3" not in sys.modules and "aws_encryption_sdk" not in sys.modules, "import app stays light"
with Client(app.app) as client:
    for path in ("/", "/sign/PL", "/sign/DE?lang=fr", "/assets/style.css"):
        assert client.http.get(path).status_code == 200, path
heavy = ("aws_encryption_sdk", "stdnum", "cryptography", "chalicelib.jobs", "chalicelib.exporting",
         "chalicelib.counting.exactly_once")
print(sorted(name for name in heavy if name in sys.modules))
"""


def test_get_pages_never_import_the_encryption_sdk_id_checks_or_jobs() -> None:
    result = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", _GET_PAGES_IN_A_FRESH_INTERPRETER],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60, check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
