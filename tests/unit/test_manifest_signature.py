"""The signed manifest: verify holds for the exporter's signature only, and says why it refuses."""

from __future__ import annotations

import pytest

from chalicelib.exporting.manifest_signature import (
    ManifestSignatureError,
    manifest_bytes,
    public_key_pem,
    sign_manifest,
    signed_line,
    verify_manifest,
)
from tests.fakes import InMemoryManifestSigner

MANIFEST = {"format": "eci-export-manifest/2", "initiative": "demo-2026", "run_id": "2026-11-27",
            "totals": {"statements": 3, "files": 1}, "files": [{"key": "k", "sha256": "ab"}], "title": "Straße"}


def test_the_exporters_signature_holds_with_its_public_key() -> None:
    signer = InMemoryManifestSigner()
    signature = sign_manifest(MANIFEST, signer)

    verify_manifest(MANIFEST, signature, signer.public_key_pem())
    assert signer.calls == 1
    assert signature["signed"].startswith("eci-export-manifest-signature/1 demo-2026 2026-11-27 sha256:")
    assert signature["key"] == signer.key_id


def test_the_signature_covers_the_manifest_not_its_formatting() -> None:
    reordered = dict(reversed(list(MANIFEST.items())))

    assert manifest_bytes(reordered) == manifest_bytes(MANIFEST)
    assert signed_line(reordered) == signed_line(MANIFEST)


@pytest.mark.parametrize("change", [
    {"totals": {"statements": 4, "files": 1}},
    {"files": [{"key": "k", "sha256": "cd"}]},
    {"run_id": "2026-11-28"},
])
def test_any_change_to_the_manifest_is_refused(change: dict[str, object]) -> None:
    signer = InMemoryManifestSigner()
    signature = sign_manifest(MANIFEST, signer)

    with pytest.raises(ManifestSignatureError, match="altered after it was signed"):
        verify_manifest({**MANIFEST, **change}, signature, signer.public_key_pem())


def test_a_signature_by_another_key_is_refused_whatever_key_it_names() -> None:
    exporter, forger = InMemoryManifestSigner(), InMemoryManifestSigner(key_id="the exporter's own ARN")
    forged = sign_manifest(MANIFEST, forger)

    with pytest.raises(ManifestSignatureError, match="forged, or signed by another key"):
        verify_manifest(MANIFEST, forged, exporter.public_key_pem())


def test_an_unsigned_or_garbled_signature_is_refused() -> None:
    signer = InMemoryManifestSigner()
    with pytest.raises(ManifestSignatureError, match="not signed"):
        verify_manifest(MANIFEST, None, signer.public_key_pem())
    garbled = {**sign_manifest(MANIFEST, signer), "signature": "!!"}
    with pytest.raises(ManifestSignatureError, match="not base64"):
        verify_manifest(MANIFEST, garbled, signer.public_key_pem())
    with pytest.raises(ManifestSignatureError, match="not one the exporter writes"):
        verify_manifest(MANIFEST, {**garbled, "algorithm": "RSASSA_PSS_SHA_256"}, signer.public_key_pem())


def test_kms_public_key_der_becomes_a_pem_openssl_reads() -> None:
    from cryptography.hazmat.primitives import serialization

    signer = InMemoryManifestSigner()
    key = serialization.load_pem_public_key(signer.public_key_pem())
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)

    assert public_key_pem(der) == signer.public_key_pem()
    verify_manifest(MANIFEST, sign_manifest(MANIFEST, signer), public_key_pem(der))
