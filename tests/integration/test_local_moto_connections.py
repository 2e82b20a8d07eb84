"""`make run` keeps its connections to moto open instead of leaving a closed socket behind per AWS call.

werkzeug's development server, which moto's own server runs on, closes the connection after every
response, so each SDK call opened a new one and left it in TIME_WAIT: the stream pump alone (two calls
per poll, four polls a second) left about 480 a minute, the first recount hundreds more (issue #10,
finding 4: "about 1,500 closed sockets behind"). Counted here as the kernel lists them (/proc/net/tcp,
Linux), on the moto port of `python -m chalicelib.local` itself.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from chalicelib.local.system_process import free_port, running_local_system

_TCP_TABLES = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))
_TIME_WAIT = "06"
IDLE_SECONDS = 10.0


def _closed_sockets_on(port: int) -> int:
    """Connections to or from `port` waiting out TIME_WAIT: what each closed connection leaves."""
    waiting = 0
    for table in _TCP_TABLES:
        if not table.exists():
            continue
        for line in table.read_text(encoding="ascii").splitlines()[1:]:
            fields = line.split()
            local, remote, state = int(fields[1].rsplit(":", 1)[1], 16), int(fields[2].rsplit(":", 1)[1], 16), fields[3]
            if state == _TIME_WAIT and port in (local, remote):
                waiting += 1
    return waiting


@pytest.mark.skipif(not _TCP_TABLES[0].exists(), reason="reads the kernel's TCP table (Linux)")
def test_make_run_left_idle_leaves_no_closed_connections_to_moto_behind(tmp_path: Path) -> None:
    app_port, moto_port = free_port(), free_port()
    with running_local_system(state_dir=tmp_path, ports=(app_port, moto_port)):
        before = _closed_sockets_on(moto_port)
        time.sleep(IDLE_SECONDS)  # the stream pump polls four times a second meanwhile
        after = _closed_sockets_on(moto_port)

    assert after - before <= 4, f"{after - before} connections to moto closed in {IDLE_SECONDS:.0f} s of idling"
