"""Accounts for the organisers' console: ``python -m chalicelib.organiser_cli create-user --role ROLE EMAIL``.

    create-user --role organiser|viewer EMAIL
        makes the account in the stage's user pool (eci-{stage}-organisers) with a one-time password,
        printed once here and stored nowhere else. At the first sign-in at /organiser/sign-in the person
        chooses a password and sets up an authenticator app; from then on every sign-in asks for its code.

``--local`` works against the moto server of ``make run`` (http://127.0.0.1:5000, or ``--endpoint``);
otherwise the usual AWS configuration (profile, region) applies. The pool is ORGANISER_USER_POOL_ID when
set, else the stage's pool found by name. Failures are one line, ``error: ...``, with exit status 1.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from chalicelib.console.tokens import ROLES

if TYPE_CHECKING:
    from mypy_boto3_cognito_idp.client import CognitoIdentityProviderClient

LOCAL_ENDPOINT = "http://127.0.0.1:5000"
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class AccountError(Exception):
    """A failure to report as one clear line."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.organiser_cli",
                                     description="Accounts for the organisers' console.")
    parser.add_argument("--stage", default=os.environ.get("ECI_STAGE", "dev"), help="stage (dev)")
    parser.add_argument("--region", default=None, help="AWS region (else the configured one)")
    parser.add_argument("--local", action="store_true", help="use the moto server of make run")
    parser.add_argument("--endpoint", default=LOCAL_ENDPOINT, help=f"moto's address with --local ({LOCAL_ENDPOINT})")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-user", help="make an account with a one-time password")
    create.add_argument("--role", required=True, choices=ROLES, help="organiser: every action; viewer: read only")
    create.add_argument("email")
    return parser


def find_pool(client: CognitoIdentityProviderClient, stage: str) -> str:
    configured = os.environ.get("ORGANISER_USER_POOL_ID", "").strip()
    if configured:
        return configured
    name = f"eci-{stage}-organisers"
    for page in client.get_paginator("list_user_pools").paginate(PaginationConfig={"PageSize": 60}):
        for pool in page["UserPools"]:
            if pool.get("Name") == name:
                return pool["Id"]
    raise AccountError(f"no user pool {name}: deploy the stage first (make deploy, or make run locally)")


def create_user(client: CognitoIdentityProviderClient, stage: str, email: str, role: str, out: TextIO) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    from chalicelib.storage.organiser_accounts import create_account

    if not _EMAIL.fullmatch(email):
        raise AccountError(f"{email!r} is not an email address")
    pool = find_pool(client, stage)
    try:
        account = create_account(client, pool, email, role)
    except client.exceptions.UsernameExistsException:
        raise AccountError(f"an account for {email} exists already") from None
    except (ClientError, BotoCoreError) as error:
        raise AccountError(f"the account was not made: {error}") from None
    out.write(f"account made: {email}, role {role}, identifier {account.subject}\n"
              f"one-time password (shown only now; valid for 3 days): {account.temporary_password}\n"
              "At the first sign-in at /organiser/sign-in, choose a password and set up an authenticator app.\n")


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    arguments = _parser().parse_args(argv)
    out = out if out is not None else sys.stdout
    if arguments.local:
        from chalicelib.local.moto_server import apply_environment, moto_environment

        apply_environment(moto_environment(arguments.endpoint))
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

    try:
        client = boto3.client("cognito-idp", region_name=arguments.region)
        create_user(client, arguments.stage, arguments.email, arguments.role, out)
    except AccountError as error:
        sys.stderr.write(f"error: {error}\n")
        return 1
    except EndpointConnectionError as error:  # finding the pool is the first call: nothing was made
        where = (f"moto at {arguments.endpoint}: is make run running? Its first lines name moto's address; "
                 "pass that with --endpoint") if arguments.local else f"AWS ({error})"
        sys.stderr.write(f"error: no account made: cannot reach {where}\n")
        return 1
    except (BotoCoreError, ClientError) as error:
        sys.stderr.write(f"error: no account made: {error}\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
