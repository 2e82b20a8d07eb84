"""ECI_TODAY: the local system and the tests run as if it were another day; a deployed function never does."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from chalicelib import config
from chalicelib.config import ConfigError, Settings, fixed_today_from, today_in_brussels

REQUIRED = {"STATEMENTS_TABLE": "s", "COUNTERS_TABLE": "c", "STATEMENTS_KEY": "k", "FINGERPRINT_KEY_PARAMETER": "/p"}


@pytest.fixture
def fresh_setting() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as patch:
        config._process_fixed_today.cache_clear()
        yield patch
    config._process_fixed_today.cache_clear()


def test_a_tester_sets_today_and_every_clock_takes_it(fresh_setting: pytest.MonkeyPatch) -> None:
    fresh_setting.setenv("ECI_TODAY", "2028-03-01")

    assert today_in_brussels() == date(2028, 3, 1)
    assert Settings.from_environ({**REQUIRED, "ECI_TODAY": "2028-03-01"}).today_setting == date(2028, 3, 1)


def test_without_the_setting_today_is_the_day_in_brussels(fresh_setting: pytest.MonkeyPatch) -> None:
    fresh_setting.delenv("ECI_TODAY", raising=False)

    assert Settings.from_environ(REQUIRED).today_setting is None
    assert abs((today_in_brussels() - date.today()).days) <= 1


def test_a_day_that_is_not_a_date_is_named_in_the_error() -> None:
    with pytest.raises(ConfigError, match=r"ECI_TODAY must be a date \(YYYY-MM-DD\), got '1/3/2028'"):
        Settings.from_environ({**REQUIRED, "ECI_TODAY": "1/3/2028"})


def test_a_deployed_function_refuses_to_start_with_another_today() -> None:
    # On AWS a moved day could purge every statement ahead of time, or keep collecting after the end.
    with pytest.raises(ConfigError, match="never for a deployed function"):
        fixed_today_from({"ECI_TODAY": "2028-06-01", "AWS_LAMBDA_FUNCTION_NAME": "eci-prod-purge_statements"})
