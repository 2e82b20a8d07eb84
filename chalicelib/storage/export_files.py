"""Export files in S3: encrypted with the encryption SDK as they are written, uploaded in parts.

* **Readers.** Each file is one encryption SDK message whose data key is encrypted for every reader:
  the KMS export key (the organisers' operators, through IAM), and, for a Member State that has
  one, that State's authority's own RSA public key (``{AUTHORITY_KEYS_DIR}/{MS}.pem``; wrapping
  RSA-OAEP-SHA256). An authority decrypts offline with its private key; nobody here ever holds it.
  The algorithm suite is the SDK's default, committing and signed (ECDSA P-384): a file has readers
  outside the organisers, and one signature per file costs nothing.
* **Memory.** Plaintext is encrypted frame by frame as it arrives and ciphertext is uploaded in
  S3 multipart parts as they fill, so a file of any size holds one frame and one part in memory.
* **At rest.** Every object, files and JSON documents alike, is stored with SSE-KMS under the
  export key, over and above the file's own encryption.
* **KMS.** One GenerateDataKey per file: one KMS call per distinct data key.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chalicelib.exporting.ports import ConcurrentWriteError, StoredObject

if TYPE_CHECKING:
    import botocore.session
    from mypy_boto3_s3.client import S3Client

AUTHORITY_PROVIDER_ID = "eci-authority"
FRAME_LENGTH = 64 * 1024
PART_SIZE = 8 * 1024 * 1024  # S3 multipart parts must be at least 5 MiB, except the last
MIN_AUTHORITY_KEY_BITS = 2048
MAX_ENCRYPTED_DATA_KEYS = 3  # the export key and at most one authority key, with room to spare


class AuthorityKeyError(ValueError):
    """An authority key file is not an RSA public key this export can use."""


def _sdk() -> Any:
    import aws_encryption_sdk  # type: ignore[import-untyped, unused-ignore]

    return aws_encryption_sdk


def rsa_key_id(public_key_der: bytes) -> str:
    """The key id an authority key is known by in the files: a fingerprint of the public key."""
    return "rsa-" + hashlib.sha256(public_key_der).hexdigest()[:32]


@dataclass(frozen=True)
class AuthorityKey:
    member_state: str
    key_id: str
    public_pem: bytes

    @classmethod
    def from_pem(cls, member_state: str, pem: bytes) -> AuthorityKey:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        try:
            key = serialization.load_pem_public_key(pem)
        except ValueError:
            raise AuthorityKeyError(f"the authority key of {member_state} is not a PEM public key") from None
        if not isinstance(key, rsa.RSAPublicKey) or key.key_size < MIN_AUTHORITY_KEY_BITS:
            raise AuthorityKeyError(
                f"the authority key of {member_state} must be an RSA key of at least {MIN_AUTHORITY_KEY_BITS} bits"
            )
        der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        return cls(member_state, rsa_key_id(der), pem)

    def master_key(self) -> Any:
        from aws_encryption_sdk.identifiers import EncryptionKeyType, WrappingAlgorithm
        from aws_encryption_sdk.internal.crypto.wrapping_keys import WrappingKey
        from aws_encryption_sdk.key_providers.raw import RawMasterKey

        return RawMasterKey(
            provider_id=AUTHORITY_PROVIDER_ID,
            key_id=self.key_id.encode("ascii"),
            wrapping_key=WrappingKey(
                wrapping_algorithm=WrappingAlgorithm.RSA_OAEP_SHA256_MGF1,
                wrapping_key=self.public_pem,
                wrapping_key_type=EncryptionKeyType.PUBLIC,
            ),
        )


def load_authority_keys(directory: Path) -> dict[str, AuthorityKey]:
    """``{MS}.pem`` files of the directory, by Member State code; none if the directory does not exist."""
    if not directory.is_dir():
        return {}
    keys = {}
    for path in sorted(directory.glob("*.pem")):
        code = path.stem.upper()
        keys[code] = AuthorityKey.from_pem(code, path.read_bytes())
    return keys


class S3Upload:
    """A binary sink that becomes one S3 object: one PutObject if small, else a multipart upload.

    It hashes and counts the bytes as they pass, so the manifest's SHA-256 is of exactly what S3 holds.
    """

    def __init__(self, s3: S3Client, bucket: str, key: str, kms_key_arn: str, part_size: int = PART_SIZE) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._key = key
        self._sse: dict[str, Any] = {
            "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_arn, "BucketKeyEnabled": True,
        }
        self._part_size = part_size
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self._hash.update(data)
        self.size += len(data)
        self._buffer += data
        if len(self._buffer) >= self._part_size:
            self._upload_part(bytes(self._buffer))
            self._buffer.clear()

    def _upload_part(self, body: bytes) -> None:
        if self._upload_id is None:
            created = self._s3.create_multipart_upload(
                Bucket=self._bucket, Key=self._key, ContentType="application/octet-stream", **self._sse
            )
            self._upload_id = created["UploadId"]
        number = len(self._parts) + 1
        uploaded = self._s3.upload_part(
            Bucket=self._bucket, Key=self._key, UploadId=self._upload_id, PartNumber=number, Body=body
        )
        self._parts.append({"PartNumber": number, "ETag": uploaded["ETag"]})

    def close(self) -> tuple[int, str]:
        """Complete the object; returns its size and SHA-256 (hex)."""
        if self._upload_id is None:
            self._s3.put_object(
                Bucket=self._bucket, Key=self._key, Body=bytes(self._buffer),
                ContentType="application/octet-stream", **self._sse,
            )
        else:
            if self._buffer:
                self._upload_part(bytes(self._buffer))
            self._s3.complete_multipart_upload(
                Bucket=self._bucket, Key=self._key, UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},  # type: ignore[typeddict-item]
            )
        self._buffer.clear()
        return self.size, self._hash.hexdigest()

    def abort(self) -> None:
        self._buffer.clear()
        if self._upload_id is not None:
            from botocore.exceptions import BotoCoreError, ClientError

            # If this fails, the bucket's lifecycle rule aborts what is left after a day.
            with contextlib.suppress(ClientError, BotoCoreError):
                self._s3.abort_multipart_upload(Bucket=self._bucket, Key=self._key, UploadId=self._upload_id)
            self._upload_id = None


class _Feed(io.RawIOBase):
    """The encryptor's source: what has been written and not yet encrypted."""

    def __init__(self) -> None:
        super().__init__()
        self.pending = bytearray()

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            size = len(self.pending)
        data = bytes(self.pending[:size])
        del self.pending[:size]
        return data


class EncryptedFile:
    """An ExportFile: plaintext written in, one encryption SDK message streamed out to an S3Upload.

    The SDK's stream encryptor pulls from a source; here the source is fed by write(). It is asked
    for exactly one frame only when a whole frame is waiting, so it never mistakes a pause for the
    end; close() lets it read the rest and write the final frame and the signature.
    """

    def __init__(self, client: Any, key_provider: Any, context: Mapping[str, str], upload: S3Upload,
                 readers: tuple[str, ...]) -> None:
        self._feed = _Feed()
        self._upload = upload
        self._readers = readers
        self._stream = client.stream(
            mode="e", source=self._feed, key_provider=key_provider, encryption_context=dict(context),
            frame_length=FRAME_LENGTH,
        )

    def write(self, data: bytes, /) -> None:
        self._feed.pending += data
        while len(self._feed.pending) >= FRAME_LENGTH:
            self._upload.write(self._stream.read(FRAME_LENGTH))

    def close(self) -> StoredObject:
        self._upload.write(self._stream.read())
        self._stream.close()
        size, digest = self._upload.close()
        return StoredObject(size=size, sha256=digest, readers=self._readers)

    def abort(self) -> None:
        self._feed.pending.clear()
        self._upload.abort()


class S3ExportFileStore:
    """ExportFileStore on S3: encrypted files for their readers, and the run's JSON documents."""

    def __init__(
        self,
        s3: S3Client,
        bucket: str,
        export_key_arn: str,
        botocore_session: botocore.session.Session,
        authority_keys: Mapping[str, AuthorityKey] | None = None,
        part_size: int = PART_SIZE,
    ) -> None:
        if not export_key_arn.startswith("arn:") or ":alias/" in export_key_arn:
            raise ValueError("the export key must be given as a KMS key ARN, not an alias or key id")
        if not bucket:
            raise ValueError("no export bucket is configured")
        sdk = _sdk()
        self._s3 = s3
        self.bucket = bucket
        self._key_arn = export_key_arn
        self._session = botocore_session
        self._authority_keys = dict(authority_keys or {})
        self._part_size = part_size
        self._client = sdk.EncryptionSDKClient(
            commitment_policy=sdk.CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT,
            max_encrypted_data_keys=MAX_ENCRYPTED_DATA_KEYS,
        )
        self._providers: dict[str, tuple[Any, tuple[str, ...]]] = {}

    def _provider(self, member_state: str) -> tuple[Any, tuple[str, ...]]:
        """The key provider for a State's files: the export key first (it makes the data key), then
        the State's authority key if there is one."""
        cached = self._providers.get(member_state)
        if cached is None:
            provider = _sdk().StrictAwsKmsMasterKeyProvider(
                key_ids=[self._key_arn], botocore_session=self._session
            )
            readers: tuple[str, ...] = (f"kms:{self._key_arn}",)
            authority = self._authority_keys.get(member_state)
            if authority is not None:
                provider.add_master_key_provider(authority.master_key())
                readers = (*readers, f"rsa:{authority.key_id}")
            cached = self._providers[member_state] = (provider, readers)
        return cached

    def create(self, key: str, context: Mapping[str, str], member_state: str) -> EncryptedFile:
        provider, readers = self._provider(member_state)
        upload = S3Upload(self._s3, self.bucket, key, self._key_arn, self._part_size)
        return EncryptedFile(self._client, provider, context, upload, readers)

    def read_json(self, key: str) -> dict[str, Any] | None:
        try:
            body = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except self._s3.exceptions.NoSuchKey:
            return None
        document = json.loads(body)
        if not isinstance(document, dict):
            raise ValueError(f"{key} does not hold a JSON object")
        return document

    def write_json(self, key: str, document: Mapping[str, Any]) -> None:
        self._put_json(key, document)

    def read_json_version(self, key: str) -> tuple[dict[str, Any] | None, str | None]:
        try:
            response = self._s3.get_object(Bucket=self.bucket, Key=key)
        except self._s3.exceptions.NoSuchKey:
            return None, None
        document = json.loads(response["Body"].read())
        if not isinstance(document, dict):
            raise ValueError(f"{key} does not hold a JSON object")
        return document, response["ETag"]

    def replace_json(self, key: str, document: Mapping[str, Any], version: str | None) -> str:
        # S3's conditional writes (If-Match on the ETag read, If-None-Match for a new key): of two workers
        # that read the same version, one writes and the other is told, atomically.
        from botocore.exceptions import ClientError

        condition: Any = {"IfMatch": version} if version is not None else {"IfNoneMatch": "*"}
        try:
            return self._put_json(key, document, **condition)
        except ClientError as error:
            # 412 when the condition fails; 409 when another conditional write to the key is in flight.
            if error.response.get("Error", {}).get("Code") in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise ConcurrentWriteError(f"{key} was written by another worker") from None
            if version is not None and error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise ConcurrentWriteError(f"{key} was removed by another worker") from None
            raise

    def _put_json(self, key: str, document: Mapping[str, Any], **condition: Any) -> str:
        body = json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False).encode("utf-8")
        response = self._s3.put_object(
            Bucket=self.bucket, Key=key, Body=body, ContentType="application/json",
            ServerSideEncryption="aws:kms", SSEKMSKeyId=self._key_arn, BucketKeyEnabled=True, **condition,
        )
        return response["ETag"]


class S3ExportPurger:
    """ExportPurger on a versioned bucket: deletes every version and delete marker under a prefix, and
    aborts the unfinished multipart uploads there.

    A plain DeleteObject on a versioned bucket only hides an object behind a delete marker; the
    data would stay in its older versions. Deleting each version by id destroys it.
    """

    def __init__(self, s3: S3Client, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket

    def delete_prefix(self, prefix: str, before_delete: Callable[[int], None] = lambda number: None) -> int:
        if not prefix or not prefix.endswith("/") or prefix.startswith("/"):
            raise ValueError("the prefix must name a folder, such as 'initiative-id/'")
        deleted = 0
        paginator = self._s3.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
            versions = [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
            batch = [
                {"Key": version["Key"], "VersionId": version["VersionId"]}
                for version in versions
                if version["Key"].startswith(prefix)  # the listing's prefix already ensures it; belt and braces
            ]
            for start in range(0, len(batch), 1000):
                chunk = batch[start:start + 1000]
                before_delete(len(chunk))
                result = self._s3.delete_objects(
                    Bucket=self._bucket, Delete={"Objects": chunk, "Quiet": True}  # type: ignore[typeddict-item]
                )
                errors = result.get("Errors", [])
                if errors:
                    raise RuntimeError(f"S3 refused to delete {len(errors)} object version(s) under {prefix}")
                deleted += len(chunk)
        return deleted + self._abort_uploads(prefix, before_delete)

    def _abort_uploads(self, prefix: str, before_delete: Callable[[int], None]) -> int:
        """Abort uploads a worker left unfinished: their parts are stored data too, listed by no version."""
        aborted = 0
        paginator = self._s3.get_paginator("list_multipart_uploads")
        for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
            for upload in page.get("Uploads", []):
                if upload["Key"].startswith(prefix):
                    before_delete(1)
                    self._s3.abort_multipart_upload(Bucket=self._bucket, Key=upload["Key"],
                                                    UploadId=upload["UploadId"])
                    aborted += 1
        return aborted
