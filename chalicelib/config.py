"""The one configuration object: environment variables read once into a frozen dataclass.

Stages differ only by the environment_variables in .chalice/config.json (and, locally, by what
chalicelib.local sets before it imports the app).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names it."""


@dataclass(frozen=True)
class Settings:
    stage: str
    region: str
    statements_table: str
    counters_table: str
    statements_key: str  # a key ARN, or an alias name (alias/...) resolved once at cold start
    fingerprint_key_parameter: str
    export_bucket: str
    initiative_file: Path
    # Bounds of the encryption SDK's data-key cache: one KMS call per this many seconds or messages.
    encryption_cache_max_age_seconds: float
    encryption_cache_max_messages: int
    form_token_max_age_seconds: int

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        def required(name: str) -> str:
            value = environ.get(name, "").strip()
            if not value:
                raise ConfigError(f"environment variable {name} is not set")
            return value

        def number(name: str, default: str) -> float:
            raw = environ.get(name, default)
            try:
                value = float(raw)
            except ValueError:
                raise ConfigError(f"environment variable {name} must be a number, got {raw!r}") from None
            if value <= 0:
                raise ConfigError(f"environment variable {name} must be positive, got {raw!r}")
            return value

        return cls(
            stage=environ.get("ECI_STAGE", "dev"),
            region=environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or "eu-central-1",
            statements_table=required("STATEMENTS_TABLE"),
            counters_table=required("COUNTERS_TABLE"),
            statements_key=required("STATEMENTS_KEY"),
            fingerprint_key_parameter=required("FINGERPRINT_KEY_PARAMETER"),
            export_bucket=environ.get("EXPORT_BUCKET", ""),
            initiative_file=initiative_file_from(environ),
            encryption_cache_max_age_seconds=number("ENCRYPTION_CACHE_MAX_AGE_SECONDS", "300"),
            encryption_cache_max_messages=int(number("ENCRYPTION_CACHE_MAX_MESSAGES", "100000")),
            form_token_max_age_seconds=int(number("FORM_TOKEN_MAX_AGE_SECONDS", "7200")),
        )


def initiative_file_from(environ: Mapping[str, str]) -> Path:
    """The organiser's initiative file: INITIATIVE_FILE, relative to the project (or Lambda task) root."""
    path = Path(environ.get("INITIATIVE_FILE", "initiatives/demo.json"))
    return path if path.is_absolute() else PROJECT_ROOT / path


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The process's settings, read from the environment on first use."""
    return Settings.from_environ(os.environ)
