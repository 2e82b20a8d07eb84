"""Signing organisers in through the app, on moto's Cognito: shared by the console's integration tests."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from chalice.test import Client

from chalicelib.config import Settings
from chalicelib.console.session import SESSION_COOKIE, SIGN_IN_COOKIE

FORM = {"content-type": "application/x-www-form-urlencoded"}


def authenticator_code(secret: str, at: float | None = None) -> str:
    """What an authenticator app shows for this key now (RFC 6238, as moto checks it)."""
    from moto.cognitoidp.utils import cognito_totp

    if at is None:
        # moto accepts only the current 30-second step: never hand out a code about to expire.
        while 30 - time.time() % 30 < 4:
            time.sleep(0.5)
        at = time.time()
    return cognito_totp(secret).generate(int(at)).decode()


def set_cookies(response: Any) -> list[str]:
    value = response.headers.get("Set-Cookie") or response.headers.get("set-cookie") or []
    return value if isinstance(value, list) else [part for part in value.split(", __Host") if part]


def cookie_value(response: Any, name: str) -> str | None:
    for cookie in set_cookies(response):
        cookie = cookie if cookie.startswith("__Host") else "__Host" + cookie
        found = re.match(rf"{re.escape(name)}=([^;]*)", cookie)
        if found:
            return found.group(1)
    return None


def hidden(body: bytes, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"'.encode(), body)
    assert found, f"the page carries {name}"
    return found.group(1).decode()


@dataclass
class Account:
    email: str
    password: str
    secret: str = ""  # the authenticator key, once set up


def create_account(settings: Settings, email: str, role: str) -> Account:
    import boto3

    from chalicelib.storage.organiser_accounts import create_account as create

    made = create(boto3.client("cognito-idp", region_name=settings.region), settings.organiser_user_pool_id,
                  email, role)
    return Account(email, made.temporary_password)


class SignIn:
    """One browser's sign-in: the sign-in cookie, then each step's form."""

    def __init__(self, client: Client) -> None:
        self.client = client
        page = client.http.get("/organiser/sign-in")
        assert page.status_code == 200
        nonce = cookie_value(page, SIGN_IN_COOKIE)
        assert nonce
        self.nonce = nonce
        self.page = page

    def post(self, **fields: str) -> Any:
        body = urlencode({"csrf": self.nonce, **fields})
        self.page = self.client.http.post("/organiser/sign-in", body=body,
                                          headers={**FORM, "cookie": f"{SIGN_IN_COOKIE}={self.nonce}"})
        return self.page

    def step(self, **fields: str) -> Any:
        carried = {name: hidden(self.page.body, name) for name in ("step", "session", "username")}
        if b'name="secret"' in self.page.body:
            carried["secret"] = hidden(self.page.body, "secret")
        return self.post(**carried, **fields)


def first_sign_in(client: Client, account: Account, new_password: str = "Console-Pass-2026!") -> str:  # noqa: S107 - a test account
    """Temporary password, own password, authenticator app: returns the session cookie's value."""
    signing_in = SignIn(client)
    page = signing_in.post(step="password", email=account.email, password=account.password)
    assert b'value="new_password"' in page.body, page.body
    page = signing_in.step(new_password=new_password)
    assert b'value="mfa_setup"' in page.body, page.body
    account.password = new_password
    account.secret = hidden(page.body, "secret")
    page = signing_in.step(code=authenticator_code(account.secret))
    assert page.status_code == 303, page.body
    session = cookie_value(page, SESSION_COOKIE)
    assert session
    return session


def sign_in(client: Client, account: Account) -> str:
    signing_in = SignIn(client)
    page = signing_in.post(step="password", email=account.email, password=account.password)
    assert b'value="mfa_code"' in page.body, page.body
    page = signing_in.step(code=authenticator_code(account.secret))
    assert page.status_code == 303, page.body
    session = cookie_value(page, SESSION_COOKIE)
    assert session
    return session


def csrf_of(client: Client, session: str) -> str:
    page = client.http.get("/organiser", headers={"cookie": f"{SESSION_COOKIE}={session}"})
    assert page.status_code == 200, page.body
    return hidden(page.body, "csrf")


def post_as(client: Client, session: str, path: str, **fields: str) -> Any:
    return client.http.post(path, body=urlencode(fields), headers={**FORM, "cookie": f"{SESSION_COOKIE}={session}"})


def get_as(client: Client, session: str, path: str) -> Any:
    return client.http.get(path, headers={"cookie": f"{SESSION_COOKIE}={session}"})
