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


def _rsa_public_key_pem() -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def test_an_authority_reads_why_a_manifest_is_refused_in_one_whole_sentence() -> None:
    signer, forger = InMemoryManifestSigner(), InMemoryManifestSigner()
    signed = sign_manifest(MANIFEST, signer)
    key = signer.public_key_pem()
    refusals = [
        (MANIFEST, None, key,
         "the manifest is not signed (no manifest.signature.json): it cannot be shown to come from the exporter"),
        (MANIFEST, {**signed, "algorithm": "RSASSA_PSS_SHA_256"}, key,
         "the manifest's signature is not one the exporter writes"),
        ({**MANIFEST, "run_id": "2026-11-28"}, signed, key,
         "the manifest was altered after it was signed (its SHA-256 or run differs from the signed one)"),
        (MANIFEST, {**signed, "signature": "!!"}, key, "the manifest's signature is not base64"),
        (MANIFEST, signed, b"not a key", "the public key is not a PEM public key"),
        (MANIFEST, signed, _rsa_public_key_pem(), "the public key is not the exporter's kind of key (ECC P-256)"),
        (MANIFEST, sign_manifest(MANIFEST, forger), key,
         "the manifest's signature does not hold for this public key: it was forged, or signed by another key"),
    ]
    for manifest, signature, public_key, sentence in refusals:
        with pytest.raises(ManifestSignatureError) as raised:
            verify_manifest(manifest, signature, public_key)
        assert str(raised.value) == sentence


def test_manifests_signed_by_earlier_runs_keep_verifying_their_bytes_are_fixed() -> None:
    # The signed line holds the SHA-256 of these bytes: another indent or escaping would make every
    # manifest already delivered to an authority fail verification.
    assert manifest_bytes({"title": "Straße", "run_id": "r1"}) == '{\n "run_id": "r1",\n "title": "Straße"\n}'.encode()
