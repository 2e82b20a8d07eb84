"""`make run` as a tester uses it for a day: sign, sign twice, sign more, restart, and the count is right throughout.

The system is `python -m chalicelib.local` itself (chalicelib/local/system_process.py), restarted at once on
the same ports with the same state folder, as a person presses Ctrl-C and runs `make run` again.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlencode

from chalicelib.local.system_process import free_port, running_local_system
from tests.unit.specimens import pesel

# Not a timing assertion: only long enough never to fail by chance on a busy machine.
PATIENCE_SECONDS = 60.0


def _pole(number: int) -> dict[str, str]:
    return {"full_first_names": "Ewa", "family_names": "Próbna", "privacy_accepted": "yes",
            "id_number": pesel(date(1960, 1, 1) + timedelta(days=number), serial="0123")}


def _sign(url: str, fields: dict[str, str]) -> bytes:
    with urllib.request.urlopen(url + "/sign/PL?lang=en", timeout=30) as page:  # noqa: S310 - loopback only
        token = re.search(rb'name="form_token" value="([^"]+)"', page.read())
    assert token
    body = urlencode({"form_token": token.group(1).decode(), "lang": "en", "homepage": "", **fields})
    request = urllib.request.Request(url + "/sign/PL?lang=en", data=body.encode(), method="POST",  # noqa: S310
                                     headers={"content-type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(request, timeout=60) as receipt:  # noqa: S310 - loopback only
        page: bytes = receipt.read()
    return page


def _shown_total(url: str) -> int:
    with urllib.request.urlopen(url + "/counts.json", timeout=30) as response:  # noqa: S310 - loopback only
        return int(json.loads(response.read())["total"])


def _total_settles_at(url: str, expected: int) -> int:
    deadline = time.monotonic() + PATIENCE_SECONDS
    while (shown := _shown_total(url)) != expected and time.monotonic() < deadline:
        time.sleep(0.2)
    return shown


def test_a_tester_signs_twice_signs_more_restarts_make_run_and_the_count_stays_exact(tmp_path: Path) -> None:
    ports = (free_port(), free_port())
    with running_local_system(state_dir=tmp_path, ports=ports) as system:
        for number in range(5):
            assert b"receipt" in _sign(system.url, _pole(number))
        assert b"receipt" in _sign(system.url, _pole(0))  # the same person again: not counted
        for number in range(5, 12):
            assert b"receipt" in _sign(system.url, _pole(number))
        assert _total_settles_at(system.url, 12) == 12

    # Restarted at once, on the same ports, with what the first run kept.
    with running_local_system(state_dir=tmp_path, ports=ports) as system:
        assert _shown_total(system.url) == 12
        assert b"receipt" in _sign(system.url, _pole(3))  # signed before the restart: still a duplicate
        for number in range(12, 15):
            assert b"receipt" in _sign(system.url, _pole(number))
        assert _total_settles_at(system.url, 15) == 15
        time.sleep(1.0)  # a late second count of anything would show now
        assert _shown_total(system.url) == 15


def test_make_run_fresh_starts_empty(tmp_path: Path) -> None:
    with running_local_system(state_dir=tmp_path) as system:
        assert b"receipt" in _sign(system.url, _pole(100))
        assert _total_settles_at(system.url, 1) == 1

    with running_local_system(state_dir=tmp_path, fresh=True) as system:  # make run FRESH=1
        assert _shown_total(system.url) == 0
        assert b"receipt" in _sign(system.url, _pole(100))  # a new start: not a duplicate any more
        assert _total_settles_at(system.url, 1) == 1
