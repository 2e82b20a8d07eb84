"""`chalice deploy` for a stage, with the data stack's outputs as the functions' environment variables.

    python -m infra.chalice_stage deploy --stage prod --set STATEMENTS_TABLE=eci-prod-statements ...
    python -m infra.chalice_stage package --stage dev --set ... --output DIR    (the same, as a template)

Why this and not `chalice deploy`: Chalice takes environment variables only from .chalice/config.json,
and the data stack's outputs hold account-specific values (key ARNs, the export bucket's name with the
account id in it). Writing them into config.json would make a committed file differ per AWS account
and per deploy, and leave two places to keep in step. Chalice's own configuration object merges
"user provided" parameters over config.json, environment variables included (Config._chain_merge),
and applies them to every function and, before it imports app.py, to this process (which is how
STATEMENTS_STREAM_ARN reaches the count function's stream mapping). So this runs the very steps of
Chalice's `deploy` command (chalice/cli/__init__.py, pinned chalice==1.34.0) with the outputs as such
parameters: config.json stays the same for everybody, the stack stays the one source of the values, and
the command line that infra/deploy.py prints shows exactly what was set.

It runs in its own process (infra/deploy.py starts it) because Chalice imports app.py and changes this
process's environment and working directory while it deploys.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import MutableMapping, Sequence
from typing import TYPE_CHECKING

from chalicelib.config import PROJECT_ROOT

if TYPE_CHECKING:
    from chalice.cli.factory import CLIFactory
    from chalice.config import Config


def assignments(values: Sequence[str], option: str) -> dict[str, str]:
    """NAME=VALUE strings as a dict (the value may contain '='); ValueError names `option` if one is not."""
    parsed: dict[str, str] = {}
    for value in values:
        name, equals, setting = value.partition("=")
        if not equals or not name:
            raise ValueError(f"{option} takes NAME=VALUE, got {value!r}")
        parsed[name] = setting
    return parsed


def stage_config(
    stage: str, environment: dict[str, str], environ: MutableMapping[str, str], project_dir: str = str(PROJECT_ROOT)
) -> tuple[CLIFactory, Config]:
    """Chalice's factory and configuration for the stage, `environment` merged over config.json's.

    `environ` is the environment Chalice updates with the stage's variables before it imports app.py.
    """
    from chalice.cli.factory import CLIFactory

    factory = CLIFactory(project_dir, environ=environ)
    config = factory.create_config_obj(
        chalice_stage_name=stage, user_provided_params={"environment_variables": environment}
    )
    return factory, config


def deploy(stage: str, environment: dict[str, str], project_dir: str = str(PROJECT_ROOT)) -> None:
    """Chalice's `deploy` command (chalice/cli/__init__.py), with `environment` over config.json's.

    `project_dir` holds .chalice/ (config.json, and deployed/<stage>.json, chalice's record of what it
    made: infra/deploy.py restores it there first and keeps it afterwards).
    """
    from chalice.utils import UI

    os.environ["AWS_CHALICE_CLI_MODE"] = "true"  # as the chalice command sets it
    os.chdir(project_dir)
    factory, config = stage_config(stage, environment, os.environ, project_dir)
    session = factory.create_botocore_session()
    ui = UI()
    deployer = factory.create_default_deployer(session=session, config=config, ui=ui)
    deployed = deployer.deploy(config, chalice_stage_name=stage)
    factory.create_deployment_reporter(ui=ui).display_report(deployed)


def package(stage: str, environment: dict[str, str], output: str, merge_template: str | None = None) -> None:
    """Chalice's `package` command (CloudFormation, JSON), with `environment` over config.json's."""
    os.environ["AWS_CHALICE_CLI_MODE"] = "true"
    os.chdir(PROJECT_ROOT)
    factory, config = stage_config(stage, environment, os.environ)
    packager = factory.create_app_packager(config, factory.create_package_options(), "cloudformation", "json",
                                           merge_template)
    packager.package_app(config, output, stage)


def main(argv: Sequence[str] | None = None, minimum_python: tuple[int, int] = (3, 12)) -> None:
    """The command line; `minimum_python` is lowered only by tests that deploy to moto, which runs no code."""
    parser = argparse.ArgumentParser(prog="python -m infra.chalice_stage",
                                     description="chalice deploy, the data stack's outputs as environment")
    parser.add_argument("command", choices=["deploy", "package"])
    parser.add_argument("--stage", required=True)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable for every function (repeat)")
    parser.add_argument("--set-from-environment", action="append", default=[], metavar="NAME",
                        help="an environment variable for every function, its value from this process's own "
                             "environment (for secrets: a command line is visible to every user, in ps)")
    parser.add_argument("--project-dir", default=str(PROJECT_ROOT), help="deploy: the directory that holds .chalice/")
    parser.add_argument("--merge-template", help="package: a template to merge into the generated one")
    parser.add_argument("--output", help="package: the directory to write")
    args = parser.parse_args(argv)
    try:
        environment = assignments(args.set, "--set")
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None
    for name in args.set_from_environment:
        if not os.environ.get(name):
            raise SystemExit(f"error: --set-from-environment {name}: the environment has no {name}")
        environment[name] = os.environ[name]
    if args.command == "package":
        if not args.output:
            parser.error("package needs the directory to write")
        package(args.stage, environment, os.path.abspath(args.output), args.merge_template)
        return
    if sys.version_info < minimum_python:
        raise SystemExit("error: deploy with Python 3.12 or newer: Chalice takes the Lambda runtime from it")
    deploy(args.stage, environment, args.project_dir)


if __name__ == "__main__":
    main()
