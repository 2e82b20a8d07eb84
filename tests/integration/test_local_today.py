"""`make run` and the tests take "today" and the initiative from documented settings, so nothing expires
with the demo: ECI_TODAY moves the day, INITIATIVE_FILE names another initiative (chalicelib/config.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib import config
from chalicelib.config import PROJECT_ROOT
from chalicelib.local.system_process import initiative_collecting_today, running_local_system

AFTER_THE_DEMO = "2028-03-01"  # the demo collects from 2026-09-01 to 2027-08-31


@pytest.fixture
def day_after_the_demo() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ECI_TODAY", AFTER_THE_DEMO)
        config._process_fixed_today.cache_clear()
        yield
    config._process_fixed_today.cache_clear()


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=20) as response:  # noqa: S310 - loopback only
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8")


def test_make_run_serves_the_initiative_file_the_tester_names_on_the_day_they_name(
    day_after_the_demo: None, tmp_path: Path
) -> None:
    path = initiative_collecting_today(tmp_path)  # collecting on ECI_TODAY
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["collection"]["start"] == "2028-02-29"
    data["texts"]["en"]["title"] = "Initiative of a tester"
    path.write_text(json.dumps(data), encoding="utf-8")

    with running_local_system(initiative_file=path) as system:
        status, page = _get(system.url + "/?lang=en")
        form_status, form = _get(system.url + "/sign/PL?lang=en")

    assert status == 200 and "Initiative of a tester" in page
    assert form_status == 200 and 'name="form_token"' in form


def test_make_run_on_a_day_after_the_demos_collection_shows_it_closed(day_after_the_demo: None,
                                                                        tmp_path: Path) -> None:
    demo = PROJECT_ROOT / "initiatives" / "demo.json"

    with running_local_system(initiative_file=demo) as system:
        status, form = _get(system.url + "/sign/PL?lang=en")

    assert status == 200 and "Collection is closed" in form and 'name="form_token"' not in form


def test_the_signing_tests_pass_with_today_after_the_demos_collection_period() -> None:
    """The signing tests, in-process and on `make run`'s system, run as if it were 2028."""
    environment = {**os.environ, "ECI_TODAY": AFTER_THE_DEMO}
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "STATEMENTS_TABLE", "COUNTERS_TABLE"):
        environment.pop(name, None)  # the inner run sets up its own moto
    tests = ["tests/unit/test_age_to_sign.py", "tests/integration/test_signing_on_moto.py",
             "tests/integration/test_local_counting.py"]
    # Our own interpreter and pytest on the project's own test files: no shell, no untrusted input.
    finished = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "pytest", "-rA", *tests],
        cwd=PROJECT_ROOT, env=environment, capture_output=True, text=True, timeout=600, check=False,
    )

    assert finished.returncode == 0, finished.stdout[-4000:] + finished.stderr[-2000:]
    assert "PASSED tests/integration/test_local_counting.py::" in finished.stdout
    assert "PASSED tests/integration/test_signing_on_moto.py::" in finished.stdout
    assert "SKIPPED" not in finished.stdout and "FAILED" not in finished.stdout
