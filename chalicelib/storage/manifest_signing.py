"""The exporter's manifest signer on KMS, and the public key that checks its signatures.

The key is asymmetric (ECC_NIST_P256, SIGN_VERIFY; infra/data.yaml ExportSigningKey): only the export
function may call kms:Sign with it, and anyone the account allows may read its public key, which is all
`verify` needs (exporting.manifest_signature). The message signed is one short line (RAW, well under
KMS's 4 KB limit), so moto, which does not implement MessageType DIGEST, signs exactly as AWS does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.exporting.manifest_signature import SIGNING_ALGORITHM, public_key_pem

if TYPE_CHECKING:
    from mypy_boto3_kms.client import KMSClient


class KmsManifestSigner:
    def __init__(self, kms: KMSClient, key_id: str) -> None:
        self._kms = kms
        self.key_id = key_id

    def sign(self, message: bytes) -> bytes:
        response = self._kms.sign(
            KeyId=self.key_id, Message=message, MessageType="RAW", SigningAlgorithm=SIGNING_ALGORITHM  # type: ignore[arg-type]
        )
        return bytes(response["Signature"])


def signing_public_key_pem(kms: KMSClient, key_id: str) -> bytes:
    """The signing key's public half as PEM (kms:GetPublicKey)."""
    return public_key_pem(bytes(kms.get_public_key(KeyId=key_id)["PublicKey"]))
