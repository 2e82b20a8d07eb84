"""Sealing statements of support with the AWS Encryption SDK under a KMS key.

Why this shape (design property 2):

* A caching materials manager amortises KMS. Without it, every statement costs one KMS
  GenerateDataKey round trip (and a per-request KMS charge). With it, one data key is reused for up to
  ``max_age_seconds`` or ``max_messages`` statements, whichever comes first, so the writer makes one
  GenerateDataKey call per cache period instead of one per statement. The bound limits how much data
  one data key protects and how long it lives in memory. Cache entries are keyed by the encryption
  context, so the context must take few distinct values (initiative and Member State, say), never
  per-statement values, or every statement misses the cache.
* The non-signing committing suite AES_256_GCM_HKDF_SHA512_COMMIT_KEY. The default suite adds an
  ECDSA P-384 signature so that a reader who can decrypt still cannot forge a message; that matters
  only when readers are less trusted than writers. Here every reader is a holder of the KMS key (the
  export function), and signing costs milliseconds of CPU per message on the request path. Key
  commitment is kept, so one ciphertext cannot decrypt to two different plaintexts under two keys.
* The writer needs only kms:GenerateDataKey: it encrypts, and cannot decrypt what it stored
  (design property 1). Only the exporter, holding kms:Decrypt, uses :class:`KmsStatementOpener`.
* Key ARNs, not aliases: the strict key provider decrypts only with the exact keys it was given.

The encryption SDK is imported inside the constructors, never at module level, so that routes that
do not seal (every GET page) never pay for its import.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from chalicelib.signing.ports import StorageUnavailableError

if TYPE_CHECKING:
    import botocore.session

# Data keys in the cache: one per distinct encryption context, which is per (initiative, Member State).
_CACHE_CAPACITY = 64
# The limit the encryption SDK enforces on messages encrypted under one cached data key.
_MAX_MESSAGES_PER_DATA_KEY = 2**32


class StatementContextError(ValueError):
    """A sealed statement's encryption context does not hold the expected pairs."""


def _sdk() -> Any:
    """The encryption SDK module, imported on first use (it has no type information)."""
    import aws_encryption_sdk  # type: ignore[import-untyped, unused-ignore]

    return aws_encryption_sdk


def _key_provider(key_arn: str, botocore_session: botocore.session.Session) -> Any:
    if not key_arn.startswith("arn:") or ":alias/" in key_arn:
        # An alias encrypts but cannot decrypt with the strict provider: fail early, not at export.
        raise ValueError("the statements key must be given as a KMS key ARN, not an alias or key id")
    return _sdk().StrictAwsKmsMasterKeyProvider(key_ids=[key_arn], botocore_session=botocore_session)


def _committing_client_and_cache(
    key_arn: str,
    botocore_session: botocore.session.Session,
    max_age_seconds: float,
    capacity: int = _CACHE_CAPACITY,
    **limits: int,
) -> tuple[Any, Any]:
    """An SDK client that requires key commitment, and a caching materials manager over the KMS key."""
    sdk = _sdk()
    client = sdk.EncryptionSDKClient(
        commitment_policy=sdk.CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT,
        max_encrypted_data_keys=1,
    )
    materials = sdk.CachingCryptoMaterialsManager(
        master_key_provider=_key_provider(key_arn, botocore_session),
        cache=sdk.LocalCryptoMaterialsCache(capacity=capacity),
        max_age=float(max_age_seconds),
        **limits,
    )
    return client, materials


class KmsStatementSealer:
    """Encrypts statements with a cached data key and the non-signing committing algorithm suite."""

    def __init__(
        self,
        key_arn: str,
        botocore_session: botocore.session.Session,
        max_age_seconds: float,
        max_messages: int,
    ) -> None:
        sdk = _sdk()
        if max_age_seconds <= 0:
            raise ValueError("max_age_seconds must be positive")
        if not 1 <= max_messages <= _MAX_MESSAGES_PER_DATA_KEY:
            raise ValueError(f"max_messages must be between 1 and {_MAX_MESSAGES_PER_DATA_KEY}")
        self._client, self._materials = _committing_client_and_cache(
            key_arn, botocore_session, max_age_seconds, max_messages_encrypted=max_messages
        )
        self._algorithm = sdk.Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY

    def seal(self, plaintext: bytes, context: Mapping[str, str]) -> bytes:
        from aws_encryption_sdk.exceptions import AWSEncryptionSDKClientError
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            ciphertext, _header = self._client.encrypt(
                source=plaintext,
                materials_manager=self._materials,
                encryption_context=dict(context),
                algorithm=self._algorithm,
            )
        except (AWSEncryptionSDKClientError, ClientError, BotoCoreError) as error:
            # The SDK wraps KMS failures; the message may quote the request, so only the type goes on.
            raise StorageUnavailableError(f"statement not sealed: {type(error).__name__}") from None
        return bytes(ciphertext)


class KmsStatementOpener:
    """Decrypts sealed statements; only the export function (with kms:Decrypt) builds one.

    Decryption materials are cached too: statements sealed under one cached data key carry the same
    encrypted data key, so an export makes one KMS Decrypt call per data key, not per statement.
    """

    def __init__(
        self,
        key_arn: str,
        botocore_session: botocore.session.Session,
        max_age_seconds: float = 300.0,
        cache_capacity: int = _CACHE_CAPACITY,
    ) -> None:
        # The export meets statements in statement-id order, not in the order they were sealed, so
        # the data keys of a whole collection interleave: the cache must hold them all (a few
        # hundred bytes each) for one Decrypt per data key, or it thrashes.
        self._client, self._materials = _committing_client_and_cache(
            key_arn, botocore_session, max_age_seconds, cache_capacity
        )

    def open(self, sealed: bytes, expected_context: Mapping[str, str]) -> bytes:
        """The plaintext, if the message's encryption context holds every expected pair.

        The context is authenticated by the message, so a statement moved to another initiative's or
        Member State's items is refused here rather than exported under the wrong heading.
        """
        plaintext, header = self._client.decrypt(source=sealed, materials_manager=self._materials)
        actual: Mapping[str, str] = header.encryption_context
        mismatched = sorted(key for key, value in expected_context.items() if actual.get(key) != value)
        if mismatched:
            # Key names only: the context holds no personal data, but messages should not echo values.
            raise StatementContextError(f"encryption context differs from the expected in: {mismatched}")
        return bytes(plaintext)


class NaiveStatementSealer:
    """The baseline for bench/ only: default signing suite, one KMS call per statement.

    AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384 with no materials cache is what the encryption SDK
    does when given nothing but a key; the benchmark shows what the caching, non-signing sealer saves.
    """

    def __init__(self, key_arn: str, botocore_session: botocore.session.Session) -> None:
        sdk = _sdk()
        self._client = sdk.EncryptionSDKClient(
            commitment_policy=sdk.CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT,
        )
        self._provider = _key_provider(key_arn, botocore_session)
        self._algorithm = sdk.Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384

    def seal(self, plaintext: bytes, context: Mapping[str, str]) -> bytes:
        ciphertext, _header = self._client.encrypt(
            source=plaintext,
            key_provider=self._provider,
            encryption_context=dict(context),
            algorithm=self._algorithm,
        )
        return bytes(ciphertext)
