"""Response headers every page carries: security policy, language and caching."""

from __future__ import annotations

# No script at all, styles only from this site, forms post only here, no framing.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def security_headers() -> dict[str, str | list[str]]:
    return {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    }


def html_headers(language: str, cache_control: str) -> dict[str, str | list[str]]:
    return {
        **security_headers(),
        "Content-Type": "text/html; charset=utf-8",
        "Content-Language": language,
        "Cache-Control": cache_control,
        "Vary": "Accept-Language",
    }
