"""The deploy command's checks before anything starts, and `make package`.

What deploy and destroy do to an account, with the real chalice on a moto server, is in
tests/integration/test_deploy_scenarios.py.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import boto3
import pytest

from infra import deploy as deploy_module
from infra.deploy import DeployError, Deployment, check_python

REGION = "eu-central-1"
STAGE = "dev"


def test_without_credentials_nothing_starts_and_the_error_says_how_to_check(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    calls: list[object] = []
    deployment = Deployment(STAGE, boto3.session.Session(region_name=REGION), io.StringIO(),
                            run=lambda command, environment: calls.append(command),
                            stacks=lambda region: calls.append(region))  # type: ignore[arg-type, func-returns-value]

    with pytest.raises(DeployError, match="aws sts get-caller-identity"):
        deployment.deploy()
    assert calls == []


def test_deploy_refuses_a_python_older_than_3_12_and_says_why() -> None:
    with pytest.raises(DeployError, match=r"3\.12 or newer, this is 3\.11: Chalice gives the Lambda functions"):
        check_python((3, 11))
    check_python((3, 12))
    check_python((3, 14))


def test_the_command_line_reports_errors_in_one_line_and_exit_status_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(deploy_module, "check_python", lambda: check_python((3, 11)))

    assert deploy_module.main(["deploy", "--stage", "prod"], out=io.StringIO()) == 1
    assert capsys.readouterr().err.startswith("error: deploy needs Python 3.12 or newer")


def test_make_package_merges_the_stream_mapping_settings_and_reports_the_package_size(tmp_path: Path) -> None:
    commands: list[list[str]] = []

    def chalice_package(command: Sequence[str], environment: Mapping[str, str]) -> None:
        commands.append(list(command))
        output = Path(command[command.index("--output") + 1])
        output.mkdir(parents=True)
        with zipfile.ZipFile(output / "deployment.zip", "w") as archive:
            archive.writestr("app.py", "")
            archive.writestr("templates/base.html", "")

    out = io.StringIO()
    line = Deployment("prod", boto3.session.Session(region_name=REGION), out, run=chalice_package,
                      python="/opt/deploy/bin/python").package(tmp_path / "dist")

    assert commands == [["/opt/deploy/bin/python", "-m", "infra.chalice_stage", "package", "--stage", "prod",
                         "--merge-template", str(deploy_module.MERGE_TEMPLATE), "--output", str(tmp_path / "dist")]]
    assert line.startswith("deployment package: 0.0 MB (2 files)")
    assert line in out.getvalue()
