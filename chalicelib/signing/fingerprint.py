"""The duplicate marker's fingerprint: a keyed HMAC over the normalised identity.

A plain hash of an ID number could be reversed by trying every number; a keyed HMAC cannot be
without the key, which lives only in KMS-wrapped form outside the code.
"""

from __future__ import annotations

import hashlib
import hmac

from chalicelib.signing.statement import PersonalData

_SEPARATOR = "\x1f"  # unit separator: cannot occur in a validated field


def fingerprint(key: bytes, initiative_id: str, personal_data: PersonalData) -> str:
    """Hex HMAC-SHA256 of the identity, bound to the initiative so markers differ between initiatives."""
    message = _SEPARATOR.join(("v1", initiative_id, *personal_data.identity())).encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()
