"""The account command's failures are one line, as its help promises: never a botocore traceback."""

from __future__ import annotations

import io
import socket

import pytest

from chalicelib import organiser_cli


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_create_user_when_make_run_is_not_running_says_so_in_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ORGANISER_USER_POOL_ID", raising=False)
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    out = io.StringIO()

    status = organiser_cli.main(["--local", "--endpoint", endpoint, "create-user", "--role", "organiser",
                                 "you@example.org"], out)

    error = capsys.readouterr().err
    assert status == 1 and out.getvalue() == ""
    assert error.count("\n") == 1 and error.startswith("error: "), error
    assert endpoint in error and "make run" in error
