"""`make run`'s system started as a child process, for the browser test, the local-run tests and the bench.

It serves an initiative collecting today (a copy of the demo file with its dates moved; "today" is
ECI_TODAY when set, chalicelib/config.py), on free ports, and stops only its own process.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from chalicelib.config import PROJECT_ROOT, today_in_brussels

HOST = "127.0.0.1"
_STOP_SECONDS = 120.0  # it saves its state before it exits: seconds for ten thousand statements


class LocalSystemError(RuntimeError):
    """The local system exited or did not answer; the message carries what it printed."""


@dataclass(frozen=True)
class LocalSystem:
    url: str  # the app
    moto_url: str  # its AWS on moto
    pid: int  # of the process serving both
    port: int
    moto_port: int
    # The initiative it serves (a copy collecting today, unless one was named): a tool run beside it, such
    # as the operator's, must read the same file, not the demo's dates.
    initiative_file: Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def initiative_collecting_today(directory: Path) -> Path:
    """The demo initiative, registered a month ago and collecting since yesterday, written to `directory`."""
    demo = json.loads((PROJECT_ROOT / "initiatives" / "demo.json").read_text(encoding="utf-8"))
    today = today_in_brussels()
    demo["registration_date"] = (today - timedelta(days=30)).isoformat()
    demo["collection"] = {"start": (today - timedelta(days=1)).isoformat(),
                          "end": (today + timedelta(days=300)).isoformat()}
    path = directory / "initiative.json"
    path.write_text(json.dumps(demo), encoding="utf-8")
    return path


@contextmanager
def running_local_system(
    start_timeout_seconds: float = 90.0,
    *,
    initiative_file: Path | None = None,
    state_dir: Path | None = None,
    ports: tuple[int, int] | None = None,
    fresh: bool = False,
) -> Iterator[LocalSystem]:
    """`python -m chalicelib.local` until the block ends, then stopped as Ctrl-C stops it (its state saved).

    The initiative collecting today unless `initiative_file`; it inherits ECI_TODAY, as `make run` does. On
    free ports unless given (app, moto); its data kept in state_dir (a temporary folder unless given: never
    the developer's own .make-run/). The same state_dir and ports again is a restart; fresh forgets.
    """
    port, moto_port = ports or (free_port(), free_port())
    with tempfile.TemporaryDirectory() as directory:
        chosen = initiative_file or initiative_collecting_today(Path(directory))
        environment = {**os.environ, "INITIATIVE_FILE": str(chosen)}
        for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):  # the local system sets up its own moto
            environment.pop(name, None)
        log_path = Path(directory) / "local-system.log"
        with log_path.open("w", encoding="utf-8") as log:
            # Our own interpreter and module with fixed arguments: no shell, no untrusted input.
            process = subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", "chalicelib.local", "--port", str(port), "--moto-port", str(moto_port),
                 "--state-dir", str(state_dir or Path(directory) / "state"), *(["--fresh"] if fresh else [])],
                cwd=PROJECT_ROOT, env=environment, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )
            system = LocalSystem(f"http://{HOST}:{port}", f"http://{HOST}:{moto_port}", process.pid, port, moto_port,
                                 chosen)
            try:
                _wait_until_serving(process, system.url, start_timeout_seconds, log_path)
                yield system
            finally:
                process.terminate()
                try:
                    process.wait(timeout=_STOP_SECONDS)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def _wait_until_serving(process: subprocess.Popen[bytes], url: str, timeout: float, log_path: Path) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url + "/", timeout=2):  # noqa: S310 - loopback only
                return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                output = log_path.read_text(encoding="utf-8", errors="replace")
                raise LocalSystemError(f"the local system did not start:\n{output}") from None
            time.sleep(0.3)
