"""The operator's side of the export bucket: list runs, fetch objects, decrypt files to XML.

Decryption streams: an export file of any size passes through in chunks, to a temporary file that
becomes the XML only once the whole message (and its signature) has been verified, so a damaged or
altered file never leaves a partial XML behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from chalicelib.storage.export_files import AUTHORITY_PROVIDER_ID, MAX_ENCRYPTED_DATA_KEYS, rsa_key_id

if TYPE_CHECKING:
    import botocore.session
    from mypy_boto3_s3.client import S3Client

_CHUNK = 1024 * 1024


class WrongKeyError(Exception):
    """The key given is not one of the file's readers."""


class DamagedFileError(Exception):
    """The file is not an intact export file: altered, truncated or not one at all."""


class ContextMismatchError(Exception):
    """The file decrypts, but it is not the file the manifest lists at this place."""


@dataclass(frozen=True)
class ExportKey:
    """What decrypts export files: the KMS export key (operators) or an authority's RSA private key."""

    description: str
    provider: Any

    @classmethod
    def kms(cls, key_arn: str, botocore_session: botocore.session.Session) -> ExportKey:
        import aws_encryption_sdk  # type: ignore[import-untyped, unused-ignore]

        provider = aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(
            key_ids=[key_arn], botocore_session=botocore_session
        )
        return cls(f"KMS key {key_arn}", provider)

    @classmethod
    def rsa_private(cls, pem: bytes) -> ExportKey:
        from aws_encryption_sdk.identifiers import EncryptionKeyType, WrappingAlgorithm
        from aws_encryption_sdk.internal.crypto.wrapping_keys import WrappingKey
        from aws_encryption_sdk.key_providers.raw import RawMasterKey
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        try:
            private = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError):
            raise WrongKeyError("the private key file is not an unencrypted PEM private key") from None
        if not isinstance(private, rsa.RSAPrivateKey):
            raise WrongKeyError("the private key is not an RSA key")
        der = private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        key_id = rsa_key_id(der)
        provider = RawMasterKey(
            provider_id=AUTHORITY_PROVIDER_ID,
            key_id=key_id.encode("ascii"),
            wrapping_key=WrappingKey(
                wrapping_algorithm=WrappingAlgorithm.RSA_OAEP_SHA256_MGF1,
                wrapping_key=pem,
                wrapping_key_type=EncryptionKeyType.PRIVATE,
            ),
        )
        return cls(f"authority key {key_id}", provider)


def decrypt_file(
    source: Path,
    target: Path,
    key: ExportKey,
    expected_context: Mapping[str, str] | None = None,
    on_bytes: Callable[[int], None] = lambda count: None,
) -> str:
    """Decrypt an export file to `target`; returns the SHA-256 (hex) of the XML.

    Raises WrongKeyError, DamagedFileError or ContextMismatchError; then `target` is not written.
    """
    import aws_encryption_sdk
    from aws_encryption_sdk.exceptions import AWSEncryptionSDKClientError, DecryptKeyError, MasterKeyProviderError
    from botocore.exceptions import BotoCoreError, ClientError
    from cryptography.exceptions import InvalidSignature, InvalidTag

    client = aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=aws_encryption_sdk.CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT,
        max_encrypted_data_keys=MAX_ENCRYPTED_DATA_KEYS,
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".decrypting-", dir=target.parent)
    digest = hashlib.sha256()
    try:
        with os.fdopen(handle, "wb") as output, source.open("rb") as encrypted:
            reader = _CountingReader(encrypted, on_bytes)
            # Not `with`: the stream's __exit__ logs a 30-line traceback ("Error on closing") when a damaged
            # file stops the read; the error itself is raised and reported below as one line.
            decryptor = client.stream(mode="d", source=reader, key_provider=key.provider)
            try:
                for chunk in decryptor:
                    output.write(chunk)
                    digest.update(chunk)
                context: Mapping[str, str] = decryptor.header.encryption_context
            finally:
                # What __exit__ would ignore: close() complains of an unread footer after a failed read.
                with contextlib.suppress(AWSEncryptionSDKClientError):
                    decryptor.close()
        if expected_context is not None:
            differing = sorted(name for name, value in expected_context.items() if context.get(name) != value)
            if differing:
                raise ContextMismatchError(
                    f"{source.name} is not the file the manifest lists there (its {', '.join(differing)} differ)"
                )
        os.replace(temporary, target)
    except (DecryptKeyError, MasterKeyProviderError):
        raise WrongKeyError(f"{key.description} is not one of the readers of {source.name}") from None
    except (ClientError, BotoCoreError) as error:
        raise WrongKeyError(f"KMS refused to decrypt {source.name} ({type(error).__name__})") from None
    except (AWSEncryptionSDKClientError, InvalidTag, InvalidSignature, ValueError, EOFError) as error:
        raise DamagedFileError(f"{source.name} is damaged or was altered ({type(error).__name__})") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    return digest.hexdigest()


class _CountingReader:
    """Passes reads through and reports how many bytes went by (for a progress bar)."""

    def __init__(self, inner: BinaryIO, on_bytes: Callable[[int], None]) -> None:
        self._inner = inner
        self._on_bytes = on_bytes

    def read(self, size: int = -1) -> bytes:
        data = self._inner.read(size)
        self._on_bytes(len(data))
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def file_sha256(path: Path, on_bytes: Callable[[int], None] = lambda count: None) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
            on_bytes(len(chunk))
    return digest.hexdigest()


class ExportBucketReader:
    """Read-only access to the export bucket: what the operator's `list`, `download` and `verify` use."""

    def __init__(self, s3: S3Client, bucket: str) -> None:
        self._s3 = s3
        self.bucket = bucket

    def run_ids(self, initiative_id: str) -> list[str]:
        runs = []
        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=f"{initiative_id}/", Delimiter="/"):
            for common in page.get("CommonPrefixes", []):
                runs.append(common["Prefix"][len(initiative_id) + 1:].rstrip("/"))
        return sorted(runs)

    def read_json(self, key: str) -> dict[str, Any] | None:
        import json

        try:
            body = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except self._s3.exceptions.NoSuchKey:
            return None
        document = json.loads(body)
        return document if isinstance(document, dict) else None

    def chunks(self, key: str) -> Iterator[bytes]:
        body = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"]
        yield from body.iter_chunks(_CHUNK)

    def download(self, key: str, target: Path, on_bytes: Callable[[int], None] = lambda count: None) -> str:
        """Fetch an object to a file (written whole or not at all); returns its SHA-256 (hex)."""
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".downloading-", dir=target.parent)
        digest = hashlib.sha256()
        try:
            with os.fdopen(handle, "wb") as output:
                for chunk in self.chunks(key):
                    output.write(chunk)
                    digest.update(chunk)
                    on_bytes(len(chunk))
            os.replace(temporary, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
        return digest.hexdigest()

    def sha256(self, key: str, on_bytes: Callable[[int], None] = lambda count: None) -> str:
        digest = hashlib.sha256()
        for chunk in self.chunks(key):
            digest.update(chunk)
            on_bytes(len(chunk))
        return digest.hexdigest()
