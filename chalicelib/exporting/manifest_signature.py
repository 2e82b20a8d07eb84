"""Proof of origin of a run: the manifest is signed with a KMS asymmetric key only the exporter may use.

What is signed is a one-line statement that names the run and the SHA-256 of the manifest's bytes as the
exporter writes them (JSON, keys sorted, one-space indent, UTF-8: ``manifest_bytes``)::

    eci-export-manifest-signature/1 demo-2026 2026-11-27 sha256:<64 hex digits>

KMS signs that line (ECDSA over SHA-256, P-256: a small key, a small signature, one call per run; the line
stays far under KMS's 4 KB limit for a raw message whatever the manifest's size). The signature document,
``manifest.signature.json`` beside the manifest, holds the line, the algorithm, the key's ARN and the DER
signature in base64. ``verify_manifest`` checks it with the public key alone, which an authority can be
given to check a run offline (README, "Exports"): a manifest that is unsigned, altered, of another run,
or signed by any other key is refused. The key named in the document is information, never trusted.

Pure: the signer is a port (exporting.ports.ManifestSigner); `cryptography` is imported only to verify.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from chalicelib.exporting.ports import ManifestSigner

SIGNATURE_FORMAT = "eci-export-manifest-signature/1"
SIGNING_ALGORITHM = "ECDSA_SHA_256"


class ManifestSignatureError(ValueError):
    """The manifest's signature is missing, malformed, or does not hold for this manifest and key."""


def manifest_bytes(manifest: Mapping[str, Any]) -> bytes:
    """The manifest as the exporter stores it, and as `download` saves it: the bytes the hash covers."""
    return json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False).encode("utf-8")


def signed_line(manifest: Mapping[str, Any]) -> str:
    digest = hashlib.sha256(manifest_bytes(manifest)).hexdigest()
    return f"{SIGNATURE_FORMAT} {manifest.get('initiative')} {manifest.get('run_id')} sha256:{digest}"


def sign_manifest(manifest: Mapping[str, Any], signer: ManifestSigner) -> dict[str, str]:
    """The signature document of a manifest (one KMS call)."""
    line = signed_line(manifest)
    signature = signer.sign(line.encode("utf-8"))
    return {
        "format": SIGNATURE_FORMAT,
        "signed": line,
        "algorithm": SIGNING_ALGORITHM,
        "key": signer.key_id,
        "signature": base64.b64encode(signature).decode("ascii"),
    }


def verify_manifest(manifest: Mapping[str, Any], signature: Mapping[str, Any] | None, public_key_pem: bytes) -> None:
    """Raise ManifestSignatureError unless `signature` is the exporter's signature of this very manifest."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    if signature is None:
        raise ManifestSignatureError("the manifest is not signed (no manifest.signature.json): it cannot be "
                                     "shown to come from the exporter")
    if signature.get("format") != SIGNATURE_FORMAT or signature.get("algorithm") != SIGNING_ALGORITHM:
        raise ManifestSignatureError("the manifest's signature is not one the exporter writes")
    if signature.get("signed") != signed_line(manifest):
        raise ManifestSignatureError("the manifest was altered after it was signed (its SHA-256 or run differs "
                                     "from the signed one)")
    try:
        der = base64.b64decode(str(signature.get("signature", "")), validate=True)
    except (binascii.Error, ValueError):
        raise ManifestSignatureError("the manifest's signature is not base64") from None
    try:
        key = serialization.load_pem_public_key(public_key_pem)
    except (ValueError, TypeError):
        raise ManifestSignatureError("the public key is not a PEM public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ManifestSignatureError("the public key is not the exporter's kind of key (ECC P-256)")
    try:
        key.verify(der, str(signature["signed"]).encode("utf-8"), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise ManifestSignatureError("the manifest's signature does not hold for this public key: it was "
                                     "forged, or signed by another key") from None


def public_key_pem(der_subject_public_key_info: bytes) -> bytes:
    """KMS GetPublicKey's DER (SubjectPublicKeyInfo) as PEM, the form openssl and this module read."""
    body = base64.encodebytes(der_subject_public_key_info).decode("ascii").replace("\n", "")
    lines = [body[index:index + 64] for index in range(0, len(body), 64)]
    return ("-----BEGIN PUBLIC KEY-----\n" + "\n".join(lines) + "\n-----END PUBLIC KEY-----\n").encode("ascii")
