"""`--local` works only against this checkout's `make run`: never another person's system on the same port."""

from __future__ import annotations

import io
import os
import socket
from collections.abc import Iterator

import boto3
import pytest

from chalicelib import operator_cli
from chalicelib.config import PROJECT_ROOT
from tests.integration.conftest import TEST_STAGE


@pytest.fixture
def restored_environment() -> Iterator[None]:
    """`--local` points os.environ at the endpoint it is given: put the session's back afterwards."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _cli(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    out = io.StringIO()
    status = operator_cli.main(list(args), out=out)
    return status, out.getvalue(), capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _tables(endpoint: str) -> list[str]:
    return list(boto3.client("dynamodb", endpoint_url=endpoint).list_tables()["TableNames"])


def test_operator_lists_the_runs_of_this_checkouts_local_system(
    moto_env: dict[str, str], restored_environment: None, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint = moto_env["AWS_ENDPOINT_URL"]

    status, _, errors = _cli("--local", "--endpoint", endpoint, "--stage", TEST_STAGE, "list", capsys=capsys)

    assert status == 0, errors


def test_another_checkouts_system_is_refused_and_nothing_is_made_there(
    moto_env: dict[str, str], restored_environment: None, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint = moto_env["AWS_ENDPOINT_URL"]
    boto3.client("ssm", endpoint_url=endpoint).put_parameter(
        Name="/eci/someone/local-system", Value="/home/someone/eci", Type="String", Overwrite=True)

    status, out, errors = _cli("--local", "--endpoint", endpoint, "--stage", "someone", "list", capsys=capsys)

    assert (status, out) == (1, "")
    assert errors == (f"error: {endpoint} is the local system of /home/someone/eci, not of {PROJECT_ROOT}: give "
                      "this checkout's `make run` address with --endpoint\n")
    assert "eci-someone-statements" not in _tables(endpoint)


def test_a_moto_server_without_this_projects_system_is_refused(
    moto_env: dict[str, str], restored_environment: None, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint = moto_env["AWS_ENDPOINT_URL"]

    status, out, errors = _cli("--local", "--endpoint", endpoint, "--stage", "nobody", "run", capsys=capsys)

    assert (status, out) == (1, "")
    assert errors == (f"error: {endpoint} is not a local system of this project (stage nobody): start `make run` "
                      f"in {PROJECT_ROOT}, or give its address with --endpoint\n")
    assert "eci-nobody-statements" not in _tables(endpoint)


def test_nothing_listening_is_one_line_not_no_export_runs(
    moto_env: dict[str, str], restored_environment: None, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint = f"http://127.0.0.1:{_free_port()}"

    status, out, errors = _cli("--local", "--endpoint", endpoint, "list", capsys=capsys)

    assert (status, out) == (1, "")
    assert errors == (f"error: no local system answers at {endpoint}: start `make run` in {PROJECT_ROOT}, or give "
                      "its address with --endpoint\n")
