"""`python -m chalicelib.local` (make run): a person starts it, opens the page, presses Ctrl-C."""

from __future__ import annotations

import json
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib.config import PROJECT_ROOT

STARTUP_SECONDS = 60.0
# A stand-in for app.py: it proves the environment was provisioned and that moto answers.
STAND_IN_APP = """
import os

import boto3
from chalice import Chalice

app = Chalice(app_name="eci")


@app.route("/")
def index():
    table = os.environ["STATEMENTS_TABLE"]
    described = boto3.client("dynamodb").describe_table(TableName=table)["Table"]
    return {"table": table, "stream": described["StreamSpecification"]["StreamViewType"]}
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class RunningProcess:
    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def wait_for(self, text: str, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            self.seen.append(line)
            if text in line:
                return
        pytest.fail(f"{text!r} not printed; output was:\n{''.join(self.seen)}")


@pytest.fixture
def local_system(tmp_path: Path) -> Iterator[tuple[RunningProcess, int]]:
    (tmp_path / "app.py").write_text(STAND_IN_APP, encoding="utf-8")
    port = _free_port()
    command = [sys.executable, "-m", "chalicelib.local", "--port", str(port), "--moto-port", "0"]
    command += ["--project-dir", str(tmp_path)]
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        command,
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    running = RunningProcess(process)
    try:
        yield running, port
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def test_person_running_make_run_sees_the_app_and_stops_it_with_ctrl_c(
    local_system: tuple[RunningProcess, int],
) -> None:
    running, port = local_system
    running.wait_for("Press Ctrl-C to stop.", STARTUP_SECONDS)
    printed = "".join(running.seen)
    assert f"http://127.0.0.1:{port}/" in printed
    assert "AWS on moto:  http://127.0.0.1:" in printed

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
        page = json.loads(response.read())
    assert page == {"table": "eci-dev-statements", "stream": "KEYS_ONLY"}

    running.process.send_signal(signal.SIGINT)
    assert running.process.wait(timeout=15) == 0


def test_make_run_names_the_command_that_makes_the_first_console_account_with_motos_address(
    local_system: tuple[RunningProcess, int],
) -> None:
    running, port = local_system
    running.wait_for("Press Ctrl-C to stop.", STARTUP_SECONDS)
    printed = "".join(running.seen)
    moto = re.search(r"AWS on moto:  (\S+)", printed)
    assert moto, printed
    assert f"Console:      http://127.0.0.1:{port}/organiser; first account: .venv/bin/python -m " \
           f"chalicelib.organiser_cli --local --endpoint {moto.group(1)} create-user --role organiser " in printed
