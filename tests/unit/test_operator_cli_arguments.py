"""The operator's command line reads as the README writes it."""

from __future__ import annotations

from chalicelib.operator_cli import LOCAL_ENDPOINT, parser


def test_local_run_as_the_readme_writes_it_runs_against_make_runs_moto() -> None:
    args = parser().parse_args(["--local", "run"])

    assert args.command == "run" and args.local and args.endpoint == LOCAL_ENDPOINT


def test_another_local_endpoint_is_named_with_endpoint() -> None:
    args = parser().parse_args(["--local", "--endpoint", "http://127.0.0.1:5061", "list"])

    assert args.command == "list" and args.local and args.endpoint == "http://127.0.0.1:5061"


def test_without_local_the_tool_uses_aws() -> None:
    assert not parser().parse_args(["list"]).local
