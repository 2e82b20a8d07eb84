"""The fingerprint (HMAC) key: stored only as a KMS ciphertext in an SSM parameter.

The key is never in code or plaintext configuration. It costs one KMS Decrypt per cold start and
none per statement. It must never change while an initiative collects: a new key would make every
later fingerprint differ from the earlier ones, and duplicates would go undetected. So creating it
never overwrites an existing parameter.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_kms.client import KMSClient
    from mypy_boto3_ssm.client import SSMClient

FINGERPRINT_KEY_BYTES = 32
# Binds the ciphertext to its use: the blob cannot be decrypted as anything else, nor vice versa.
FINGERPRINT_KEY_CONTEXT = {"purpose": "eci-fingerprint"}


class FingerprintKeyError(RuntimeError):
    """The fingerprint key parameter is missing or its content cannot be turned into the key."""


def load_fingerprint_key(ssm_client: SSMClient, kms_client: KMSClient, parameter_name: str) -> bytes:
    """The 32-byte HMAC key, decrypted from the base64 KMS ciphertext in the named SSM parameter."""
    from botocore.exceptions import ClientError

    try:
        value = ssm_client.get_parameter(Name=parameter_name)["Parameter"].get("Value", "")
    except ssm_client.exceptions.ParameterNotFound:
        raise FingerprintKeyError(f"fingerprint key parameter {parameter_name} does not exist") from None
    try:
        blob = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise FingerprintKeyError(f"fingerprint key parameter {parameter_name} is not base64") from None
    if not blob:
        raise FingerprintKeyError(f"fingerprint key parameter {parameter_name} is empty")
    try:
        key = kms_client.decrypt(CiphertextBlob=blob, EncryptionContext=FINGERPRINT_KEY_CONTEXT)["Plaintext"]
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "unknown")
        raise FingerprintKeyError(
            f"fingerprint key parameter {parameter_name} could not be decrypted with KMS ({code})"
        ) from error
    if len(key) != FINGERPRINT_KEY_BYTES:
        raise FingerprintKeyError(
            f"fingerprint key parameter {parameter_name} holds {len(key)} bytes, not {FINGERPRINT_KEY_BYTES}"
        )
    return key


def create_fingerprint_key(ssm: SSMClient, kms: KMSClient, key_arn: str, parameter_name: str) -> bool:
    """Generate the key under the fingerprint KMS key and store its ciphertext, unless one exists.

    Returns True if it created the parameter, False if it was already there (left unchanged).
    KMS returns only the ciphertext (GenerateDataKeyWithoutPlaintext): the key is in the clear
    nowhere but in the memory of the functions that load it.
    """
    try:
        ssm.get_parameter(Name=parameter_name)
        return False
    except ssm.exceptions.ParameterNotFound:
        pass
    blob = kms.generate_data_key_without_plaintext(
        KeyId=key_arn, NumberOfBytes=FINGERPRINT_KEY_BYTES, EncryptionContext=FINGERPRINT_KEY_CONTEXT
    )["CiphertextBlob"]
    try:
        ssm.put_parameter(
            Name=parameter_name,
            Value=base64.b64encode(blob).decode("ascii"),
            Type="String",  # the value is already a KMS ciphertext; SecureString would wrap it twice
            Overwrite=False,
            Description="KMS ciphertext (base64) of the ECI fingerprint HMAC key; never overwrite",
        )
    except ssm.exceptions.ParameterAlreadyExists:
        return False  # another provisioner won the race; its key stands
    return True
