"""The one configuration object: environment variables read once into a frozen dataclass.

Stages differ only by the environment_variables in .chalice/config.json (and, locally, by what
chalicelib.local sets before it imports the app).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

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
    # How long the public counts are kept: by each Lambda instance, and by CloudFront (s-maxage).
    counts_cache_seconds: int = 10
    # Exports (chalicelib/exporting, chalicelib/jobs.py). The key may be an alias: resolved to its ARN.
    export_key: str = ""
    export_signing_key: str = ""  # signs each run's manifest (infra/data.yaml ExportSigningKey); may be an alias
    export_max_statements_per_file: int = 100_000
    authority_keys_dir: Path = PROJECT_ROOT / "initiatives" / "authority-keys"
    export_worker_function: str = ""
    export_fan_out: str = "lambda"  # "lambda": one invocation per Member State; "in-process": one after another
    # True only where the stream mapping has ReportBatchItemFailures (make deploy, the merged package,
    # the local pump): elsewhere Lambda would take a failure response for success, so the count raises.
    count_reports_item_failures: bool = False
    # The value CloudFront sends in ORIGIN_VERIFY_HEADER (infra/edge.yaml); requests without it came to
    # the execute-api address directly, past WAF. Empty (locally): every request is served.
    origin_verify_secret: str = field(default="", repr=False)
    # The organisers' console (chalicelib/console): its table, the Cognito user pool and app client whose
    # tokens it accepts, and where the privileged actions run ("lambda": the console_actions function,
    # with its own IAM policy; "in-process": in the caller, where there is no Lambda, as on make run).
    console_table: str = ""
    organiser_user_pool_id: str = ""
    organiser_client_id: str = ""
    console_actions: str = "lambda"
    console_function: str = ""
    count_failure_queue: str = ""  # the count function's stream failure queue (infra/stream-failures.yaml)
    aws_endpoint_url: str = ""  # set only locally (moto): Cognito's signing keys are fetched there

    @property
    def organiser_token_issuer(self) -> str:
        """The iss of the pool's tokens: AWS's address, which moto uses too."""
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.organiser_user_pool_id}"

    @property
    def organiser_keys_url(self) -> str:
        """Where the pool publishes the keys its tokens are signed with (JWKS)."""
        base = self.aws_endpoint_url.rstrip("/") + f"/{self.organiser_user_pool_id}" if self.aws_endpoint_url \
            else self.organiser_token_issuer
        return f"{base}/.well-known/jwks.json"
    # ECI_TODAY: the day the system takes for today (local runs and tests); None: the day in Brussels.
    today_setting: date | None = None

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
            counts_cache_seconds=max(1, int(number("COUNTS_CACHE_SECONDS", "3"))),
            count_reports_item_failures=environ.get("COUNT_REPORTS_ITEM_FAILURES", "").strip().lower() == "true",
            origin_verify_secret=environ.get("ORIGIN_VERIFY_SECRET", "").strip(),
            today_setting=fixed_today_from(environ),
            **_export_settings(environ, number),
            **_console_settings(environ),
        )


def initiative_file_from(environ: Mapping[str, str]) -> Path:
    """The organiser's initiative file: INITIATIVE_FILE, relative to the project (or Lambda task) root."""
    path = Path(environ.get("INITIATIVE_FILE", "initiatives/demo.json"))
    return path if path.is_absolute() else PROJECT_ROOT / path


def _export_settings(environ: Mapping[str, str], number: Callable[[str, str], float]) -> dict[str, Any]:
    stage = environ.get("ECI_STAGE", "dev")
    fan_out = environ.get("EXPORT_FAN_OUT", "lambda").strip()
    if fan_out not in ("lambda", "in-process"):
        raise ConfigError(f"environment variable EXPORT_FAN_OUT must be lambda or in-process, got {fan_out!r}")
    keys_dir = Path(environ.get("AUTHORITY_KEYS_DIR", "initiatives/authority-keys"))
    return {
        "export_key": environ.get("EXPORT_KEY", "").strip() or f"alias/eci-{stage}-exports",
        "export_signing_key": environ.get("EXPORT_SIGNING_KEY", "").strip() or f"alias/eci-{stage}-export-signing",
        "export_max_statements_per_file": int(number("EXPORT_MAX_STATEMENTS_PER_FILE", "100000")),
        "authority_keys_dir": keys_dir if keys_dir.is_absolute() else PROJECT_ROOT / keys_dir,
        # Chalice names a stage's functions {app}-{stage}-{function}.
        "export_worker_function": environ.get("EXPORT_WORKER_FUNCTION", "").strip() or f"eci-{stage}-export_worker",
        "export_fan_out": fan_out,
    }


def _console_settings(environ: Mapping[str, str]) -> dict[str, Any]:
    stage = environ.get("ECI_STAGE", "dev")
    actions = environ.get("CONSOLE_ACTIONS", "lambda").strip()
    if actions not in ("lambda", "in-process"):
        raise ConfigError(f"environment variable CONSOLE_ACTIONS must be lambda or in-process, got {actions!r}")
    return {
        "console_table": environ.get("CONSOLE_TABLE", "").strip() or f"eci-{stage}-console",
        "organiser_user_pool_id": environ.get("ORGANISER_USER_POOL_ID", "").strip(),
        "organiser_client_id": environ.get("ORGANISER_CLIENT_ID", "").strip(),
        "console_actions": actions,
        "console_function": environ.get("CONSOLE_FUNCTION", "").strip() or f"eci-{stage}-console_actions",
        "count_failure_queue": environ.get("COUNT_FAILURE_QUEUE", "").strip() or f"eci-{stage}-count-failures",
        "aws_endpoint_url": environ.get("AWS_ENDPOINT_URL", "").strip(),
    }


TODAY_VARIABLE = "ECI_TODAY"


def fixed_today_from(environ: Mapping[str, str]) -> date | None:
    """ECI_TODAY=YYYY-MM-DD: run the local system or the tests as if it were that day.

    It moves every clock that counts in days: collection open or closed, ages, the retention clock, the
    export's run ids. Refused in a Lambda function: on AWS the day is the day.
    """
    raw = environ.get(TODAY_VARIABLE, "").strip()
    if not raw:
        return None
    if environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        raise ConfigError(f"environment variable {TODAY_VARIABLE} is for local runs and tests, "
                          "never for a deployed function")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ConfigError(f"environment variable {TODAY_VARIABLE} must be a date (YYYY-MM-DD), got {raw!r}") from None


@lru_cache(maxsize=1)
def _process_fixed_today() -> date | None:
    return fixed_today_from(os.environ)


def today_in_brussels() -> date:
    """Today as the EU's citizens and the law count it: the day in Brussels, not in UTC; or ECI_TODAY."""
    fixed = _process_fixed_today()
    if fixed is not None:
        return fixed
    from chalicelib.signing.statement_id import signing_day  # the one definition of the day in Brussels

    return signing_day(datetime.now(UTC))


# What the count function's stream mapping names when STATEMENTS_STREAM_ARN is unset: `chalice package`
# and the tests still build, and a deployment made with it fails loudly, naming the variable to set.
UNSET_STREAM_ARN = "arn:aws:dynamodb:eu-central-1:000000000000:table/unset/stream/STATEMENTS_STREAM_ARN-not-set"


def statements_stream_arn_from(environ: Mapping[str, str]) -> str:
    """The statements table's stream, for the count function's event source mapping.

    Chalice needs it when it imports app.py (package, deploy), before any stage variable is set, so it
    comes from the environment of that command: the data stack's output StatementsTableStreamArn.
    """
    return environ.get("STATEMENTS_STREAM_ARN", "").strip() or UNSET_STREAM_ARN


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The process's settings, read from the environment on first use."""
    return Settings.from_environ(os.environ)
