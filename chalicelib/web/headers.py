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


# How long CloudFront may keep serving counts it holds while it fetches fresh ones in the background.
STALE_WHILE_REVALIDATE_SECONDS = 60


def shared_cache_control(period_seconds: int) -> str:
    """For the counts' pages: browsers revalidate every time, CloudFront keeps them for the period."""
    return (f"public, max-age=0, s-maxage={period_seconds}, "
            f"stale-while-revalidate={STALE_WHILE_REVALIDATE_SECONDS}")


def json_headers(cache_control: str) -> dict[str, str | list[str]]:
    """Public JSON: the same for every language, and readable by pages of other sites."""
    return {
        **security_headers(),
        "Content-Type": "application/json",
        "Cache-Control": cache_control,
        "Access-Control-Allow-Origin": "*",
    }
