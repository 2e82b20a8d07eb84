"""The organisers' Cognito user pool: signing in step by step, and making accounts (the CLI).

Signing in is Cognito's USER_PASSWORD_AUTH with its challenges: a new password on first sign-in, setting
up an authenticator app (MFA_SETUP), then a TOTP code on every sign-in. Cognito's session string carries
each step to the next; it is opaque, short-lived and names no one.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_cognito_idp.client import CognitoIdentityProviderClient


NEW_PASSWORD = "NEW_PASSWORD_REQUIRED"  # noqa: S105 - the name of a Cognito challenge
MFA_SETUP = "MFA_SETUP"
MFA_CODE = "SOFTWARE_TOKEN_MFA"


class SignInRefusedError(Exception):
    """Cognito said no; reason is one of: credentials, code, password_policy, expired, unavailable."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SignedIn:
    access_token: str


@dataclass(frozen=True)
class Challenge:
    name: str  # NEW_PASSWORD, MFA_SETUP or MFA_CODE
    session: str
    username: str
    secret: str = ""  # MFA_SETUP: the key to type into the authenticator app


SignInStep = SignedIn | Challenge


class CognitoSignIn:
    def __init__(self, client: CognitoIdentityProviderClient, client_id: str) -> None:
        self._client = client
        self._client_id = client_id

    def _next(self, response: dict[str, object], username: str) -> SignInStep:
        result = response.get("AuthenticationResult")
        if isinstance(result, dict) and result.get("AccessToken"):
            return SignedIn(str(result["AccessToken"]))
        name, session = str(response.get("ChallengeName", "")), str(response.get("Session", ""))
        if name == MFA_SETUP:
            associated = self._call("associate_software_token", Session=session)
            return Challenge(name, str(associated["Session"]), username, secret=str(associated["SecretCode"]))
        if name in (NEW_PASSWORD, MFA_CODE):
            return Challenge(name, session, username)
        raise SignInRefusedError("unavailable")  # a challenge the console does not offer (SMS, custom)

    def _call(self, operation: str, **arguments: object) -> dict[str, object]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response: dict[str, object] = getattr(self._client, operation)(**arguments)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            reason = {
                "NotAuthorizedException": "credentials", "UserNotFoundException": "credentials",
                "PasswordResetRequiredException": "credentials", "UserNotConfirmedException": "credentials",
                "CodeMismatchException": "code", "EnableSoftwareTokenMFAException": "code",
                "InvalidPasswordException": "password_policy", "ExpiredCodeException": "expired",
                "ResourceNotFoundException": "expired",  # a Cognito session that is gone (moto says this)
            }.get(code, "unavailable")
            if code == "NotAuthorizedException" and "session" in str(error).lower():
                reason = "expired"
            raise SignInRefusedError(reason) from None
        except BotoCoreError:
            raise SignInRefusedError("unavailable") from None
        return response

    def start(self, username: str, password: str) -> SignInStep:
        response = self._call("initiate_auth", ClientId=self._client_id, AuthFlow="USER_PASSWORD_AUTH",
                              AuthParameters={"USERNAME": username, "PASSWORD": password})
        return self._next(response, username)

    def new_password(self, challenge: Challenge, password: str) -> SignInStep:
        response = self._call("respond_to_auth_challenge", ClientId=self._client_id, ChallengeName=NEW_PASSWORD,
                              Session=challenge.session,
                              ChallengeResponses={"USERNAME": challenge.username, "NEW_PASSWORD": password})
        return self._next(response, challenge.username)

    def set_up_mfa(self, challenge: Challenge, code: str) -> SignInStep:
        verified = self._call("verify_software_token", Session=challenge.session, UserCode=code,
                              FriendlyDeviceName="authenticator")
        if verified.get("Status") != "SUCCESS":
            raise SignInRefusedError("code")
        response = self._call("respond_to_auth_challenge", ClientId=self._client_id, ChallengeName=MFA_SETUP,
                              Session=str(verified["Session"]), ChallengeResponses={"USERNAME": challenge.username})
        return self._next(response, challenge.username)

    def mfa_code(self, challenge: Challenge, code: str) -> SignInStep:
        response = self._call("respond_to_auth_challenge", ClientId=self._client_id, ChallengeName=MFA_CODE,
                              Session=challenge.session,
                              ChallengeResponses={"USERNAME": challenge.username, "SOFTWARE_TOKEN_MFA_CODE": code})
        return self._next(response, challenge.username)


    def sign_out(self, access_token: str) -> bool:
        """Cognito's GlobalSignOut: its own API refuses the account's tokens from now on (so a copied token
        cannot change the account's authenticator or attributes) and its refresh tokens end. The app's own
        record of the sign-out is what the console checks; this is the second line. False if Cognito did not
        take it (an already-ended token, or no answer): logged by the caller, never retried."""
        try:
            self._call("global_sign_out", AccessToken=access_token)
        except SignInRefusedError:
            return False
        return True


def one_time_password(length: int = 20) -> str:
    """A temporary password that meets the pool's policy (infra/data.yaml): every character class present."""
    classes = (string.ascii_lowercase, string.ascii_uppercase, string.digits, "-_!#%+=")
    while True:
        candidate = "".join(secrets.choice("".join(classes)) for _ in range(length))
        if all(any(character in group for character in candidate) for group in classes):
            return candidate


@dataclass(frozen=True)
class NewAccount:
    subject: str  # what the audit log names the account by
    temporary_password: str


def create_account(client: CognitoIdentityProviderClient, pool_id: str, email: str, role: str) -> NewAccount:
    """An account that must choose its own password and set up an authenticator app on first sign-in."""
    password = one_time_password()
    user = client.admin_create_user(
        UserPoolId=pool_id, Username=email, TemporaryPassword=password, MessageAction="SUPPRESS",
        UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}],
    )["User"]
    client.admin_add_user_to_group(UserPoolId=pool_id, Username=email, GroupName=role)
    subject = next((attribute.get("Value", "") for attribute in user.get("Attributes", [])
                    if attribute.get("Name") == "sub"), "")
    return NewAccount(subject=subject, temporary_password=password)
