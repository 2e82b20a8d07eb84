"""Restarting `make run` on the same ports works at once; a port someone else listens on is still refused."""

from __future__ import annotations

import socket

import pytest

from chalicelib.local.moto_server import MotoPortInUseError, start_moto_server
from chalicelib.local.system_process import HOST, free_port


def _leave_time_wait_on(port: int) -> None:
    """What a stopped run leaves: a connection the server's side closed first, waiting out TIME_WAIT."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((HOST, port))
        listener.listen()
        client = socket.create_connection((HOST, port))
        served, _ = listener.accept()
        served.close()  # the server's side closes first: its port is the one left in TIME_WAIT
        client.recv(1)
        client.close()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as plain, pytest.raises(OSError):
        plain.bind((HOST, port))  # what the probe without SO_REUSEADDR tripped over for a minute


def test_moto_starts_at_once_on_the_port_a_stopped_run_just_left() -> None:
    port = free_port()
    _leave_time_wait_on(port)

    server = start_moto_server(port=port, set_environment=False)
    try:
        assert server.port == port
    finally:
        server.stop()


def test_moto_refuses_a_port_another_server_listens_on() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:
        other.bind((HOST, 0))
        other.listen()
        with pytest.raises(MotoPortInUseError, match="is in use"):
            start_moto_server(port=other.getsockname()[1], set_environment=False)


def _run_make_run_while_listening(which: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """`python -m chalicelib.local` with one of its two ports held by another listening server."""
    from chalicelib.local.__main__ import main

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:
        other.bind((HOST, 0))
        other.listen()
        held = other.getsockname()[1]
        ports = {"--port": str(free_port()), "--moto-port": str(free_port()), which: str(held)}
        status = main([argument for pair in ports.items() for argument in pair])
    captured = capsys.readouterr()
    return status, captured.err, str(held)


@pytest.mark.parametrize("which", ["--moto-port", "--port"])
def test_a_second_make_run_on_ports_in_use_is_one_line_naming_the_port_and_the_option(
    which: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, errors, held = _run_make_run_while_listening(which, capsys)

    assert status == 2
    free_one = " (0 picks a free one)" if which == "--moto-port" else ""  # only moto's server reports the port it got
    assert errors == (f"make run: port {held} on {HOST} is in use (another `make run`?): stop it, or choose "
                      f"another with {which}{free_one}\n")
