"""A citizen signing through the Chalice app, with storage, KMS and SSM on moto."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from typing import Any
from urllib.parse import urlencode

import pytest
from chalice.test import Client

import app as app_module
from chalicelib import services
from chalicelib.config import Settings
from chalicelib.signing.ports import StorageUnavailableError
from chalicelib.signing.submit import encryption_context

SIGNING_DAY = date(2026, 11, 27)  # inside the demo initiative's collection period
FORM = {"content-type": "application/x-www-form-urlencoded"}

POLISH_CITIZEN = {
    "full_first_names": "Zofia Maria",
    "family_names": "Wiśniewska-Kowal",
    "id_number": "44051401359",
    "privacy_accepted": "yes",
}
GERMAN_CITIZEN = {
    "full_first_names": "Jürgen",
    "family_names": "Großmann",
    "street": "Kastanienallee",
    "street_number": "12b",
    "postal_code": "10435",
    "city": "Berlin",
    "country": "DE",
    "date_of_birth_day": "7",
    "date_of_birth_month": "3",
    "date_of_birth_year": "1988",
    "privacy_accepted": "yes",
}


def _items(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    return list(dynamodb.scan(TableName=table)["Items"])


@pytest.fixture
def aws(aws_settings: Settings) -> Iterator[Any]:
    import boto3

    dynamodb = boto3.client("dynamodb", region_name=aws_settings.region)
    for table in (aws_settings.statements_table, aws_settings.counters_table):
        for item in _items(dynamodb, table):
            dynamodb.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})
    yield dynamodb


def _use_services(aws_settings: Settings, day: date) -> services.Services:
    current = services.Services(aws_settings, services.check_initiative_file(), today=lambda: day)
    services.use(current)
    return current


@pytest.fixture
def client(aws: Any, aws_settings: Settings) -> Iterator[Client]:
    _use_services(aws_settings, SIGNING_DAY)
    with Client(app_module.app) as test_client:
        yield test_client
    services.use(None)


def _token(client: Client, code: str, lang: str = "en") -> str:
    page = client.http.get(f"/sign/{code}?lang={lang}")
    assert page.status_code == 200
    found = re.search(rb'name="form_token" value="([^"]+)"', page.body)
    assert found, "the form carries a token"
    return found.group(1).decode()


def _sign(client: Client, code: str, fields: dict[str, str], lang: str = "en") -> Any:
    body = urlencode({"form_token": _token(client, code, lang), "lang": lang, "homepage": "", **fields})
    return client.http.post(f"/sign/{code}?lang={lang}", headers=FORM, body=body)


def _statements(aws: Any, settings: Settings) -> list[dict[str, Any]]:
    return [item for item in _items(aws, settings.statements_table) if item["pk"]["S"].startswith("S#")]


def _markers(aws: Any, settings: Settings) -> list[dict[str, Any]]:
    return [item for item in _items(aws, settings.statements_table) if item["pk"]["S"].startswith("F#")]


def test_polish_citizen_signs_and_gets_a_receipt(client: Client, aws: Any, aws_settings: Settings) -> None:
    response = _sign(client, "PL", POLISH_CITIZEN)

    assert response.status_code == 200
    statement_id = re.search(rb"<code>(\d{4}-\d{2}-\d{2}-[0-9a-f-]{36})</code>", response.body)
    assert statement_id, "the receipt shows the statement identifier"
    assert b"27 November 2026" in response.body
    [statement] = _statements(aws, aws_settings)
    assert statement["statement_id"]["S"] == statement_id.group(1).decode()
    assert statement["member_state"]["S"] == "PL"
    assert len(_markers(aws, aws_settings)) == 1


def test_sealed_statement_opens_with_the_statements_key_to_the_signed_data(
    client: Client, aws: Any, aws_settings: Settings
) -> None:
    from chalicelib.storage.clients import AwsClients
    from chalicelib.storage.encryption import KmsStatementOpener

    _sign(client, "DE", GERMAN_CITIZEN)
    [statement] = _statements(aws, aws_settings)
    opener = KmsStatementOpener(aws_settings.statements_key, AwsClients(aws_settings).botocore_session)

    payload = json.loads(opener.open(statement["sealed"]["B"], encryption_context("demo-2026")))

    assert payload["properties"] == {
        "full.first.names": "Jürgen",
        "family.names": "Großmann",
        "street": "Kastanienallee",
        "street.number": "12b",
        "postal.code": "10435",
        "city": "Berlin",
        "country": "DE",
        "date.of.birth": "1988-03-07",
    }


def test_a_statement_copied_under_another_initiative_is_refused_by_that_initiatives_export(
    client: Client, aws: Any, aws_settings: Settings
) -> None:
    from chalicelib.storage.clients import AwsClients
    from chalicelib.storage.encryption import KmsStatementOpener, StatementContextError

    _sign(client, "DE", GERMAN_CITIZEN)
    [statement] = _statements(aws, aws_settings)
    opener = KmsStatementOpener(aws_settings.statements_key, AwsClients(aws_settings).botocore_session)

    # The sealed context names the initiative: one that lost it would let the statement be exported
    # to a national authority under another initiative's heading.
    with pytest.raises(StatementContextError, match="initiative"):
        opener.open(statement["sealed"]["B"], encryption_context("other-2026"))


def test_second_statement_by_the_same_person_adds_nothing_and_looks_the_same(
    client: Client, aws: Any, aws_settings: Settings
) -> None:
    first = _sign(client, "PL", POLISH_CITIZEN)
    # The same person, typing the number with spaces and the names in other case.
    again = _sign(client, "PL", {**POLISH_CITIZEN, "id_number": "440 514 013 59"})

    assert first.status_code == again.status_code == 200
    strip_id = re.compile(rb"<code>\d{4}-\d{2}-\d{2}-[0-9a-f-]{36}</code>")
    assert strip_id.sub(b"", first.body) == strip_id.sub(b"", again.body)
    assert len(_statements(aws, aws_settings)) == 1
    assert len(_markers(aws, aws_settings)) == 1


def test_nothing_personal_is_stored_in_the_clear(client: Client, aws: Any, aws_settings: Settings) -> None:
    _sign(client, "PL", POLISH_CITIZEN)
    _sign(client, "DE", GERMAN_CITIZEN)

    # Each attribute as it is stored: text as text, binary (the sealed statement) as its bytes. Not the
    # repr of the bytes, whose escapes can spell a value by chance ("\x12" then "b" reads "12b").
    texts, blobs = [], []
    for item in _items(aws, aws_settings.statements_table):
        for attribute in item.values():
            [(kind, value)] = attribute.items()
            if kind == "B":
                blobs.append(bytes(value))
            else:
                texts.append(json.dumps(value, ensure_ascii=False))
    assert blobs, "the sealed statements are among what was searched"
    for value in [*POLISH_CITIZEN.values(), *GERMAN_CITIZEN.values()]:
        if value not in ("yes", "DE", "7", "3"):
            # A whole word, not a substring: statement ids and fingerprints are random hex, where "12b"
            # turns up in about one run in fifty; as a word of its own it would be the house number.
            as_word = re.compile(rf"(?<![0-9A-Za-z]){re.escape(value)}(?![0-9A-Za-z])")
            assert not any(as_word.search(text) for text in texts), value
            # Three random bytes spell "12b" once in 16 million: only a leak spells five and more.
            if len(value.encode("utf-8")) >= 5:
                assert not any(value.encode("utf-8") in blob for blob in blobs), value


def test_no_submitted_value_reaches_any_log_line(
    client: Client, aws: Any, aws_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # everything, botocore's wire logs included

    _sign(client, "PL", POLISH_CITIZEN)
    _sign(client, "PL", POLISH_CITIZEN)
    _sign(client, "DE", {**GERMAN_CITIZEN, "date_of_birth_year": "2020"})  # refused: too young
    _sign(client, "DE", GERMAN_CITIZEN)

    logged = "\n".join(record.getMessage() + repr(record.__dict__) for record in caplog.records)
    assert logged, "the run logged something"
    # Short numbers (a birth year, a postcode) turn up by chance inside botocore's request ids and
    # checksums; every other value is distinctive enough that finding it would mean a leak.
    for value in [*POLISH_CITIZEN.values(), *GERMAN_CITIZEN.values()]:
        if len(value) > 3 and not (value.isdigit() and len(value) < 8):
            assert value not in logged


def test_french_citizen_sees_field_errors_in_french_and_keeps_what_they_typed(
    client: Client, aws: Any, aws_settings: Settings
) -> None:
    response = _sign(
        client,
        "FR",
        {
            **GERMAN_CITIZEN,
            "country": "FR",
            "postal_code": "75011",
            "date_of_birth_day": "31",
            "date_of_birth_month": "4",
        },
        lang="fr",
    )

    assert response.status_code == 422
    page = response.body.decode()
    assert 'lang="fr"' in page
    assert "Jürgen" in page and "Kastanienallee" in page
    assert "Saisissez une date qui existe" in page or "date qui existe" in page
    assert _statements(aws, aws_settings) == []


def test_outside_the_collection_period_the_form_is_closed_and_a_post_stores_nothing(
    aws: Any, aws_settings: Settings
) -> None:
    current = _use_services(aws_settings, SIGNING_DAY)
    with Client(app_module.app) as client:
        token = _token(client, "PL")
        services.use(replace(current, today=lambda: date(2027, 9, 1)))
        form = client.http.get("/sign/PL")
        body = urlencode({"form_token": token, "lang": "en", "homepage": "", **POLISH_CITIZEN})
        post = client.http.post("/sign/PL", headers=FORM, body=body)
    services.use(None)

    assert b"closed" in form.body and b'name="form_token"' not in form.body
    assert post.status_code == 403 and b"closed" in post.body
    assert _statements(aws, aws_settings) == []


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        pytest.param(FORM, "full_first_names=" + "a" * 17000, 413, id="body-over-16-KB"),
        pytest.param({"content-type": "application/json"}, '{"full_first_names": "Zofia"}', 415, id="json"),
        pytest.param({"content-type": "text/plain"}, "hello", 415, id="text"),
        pytest.param(FORM, b"full_first_names=Zofia%FF%FE", 400, id="invalid-utf-8-escape"),
        pytest.param(FORM, b"full_first_names=Zofia\xff", 400, id="raw-non-ascii-byte"),
        pytest.param(FORM, "full_first_names=Zofia&is_admin=1", 400, id="unknown-field"),
        pytest.param(FORM, "family_names=A&family_names=B", 400, id="repeated-field"),
    ],
)
def test_bad_request_gets_a_clear_page_and_stores_nothing(
    client: Client, aws: Any, aws_settings: Settings, headers: dict[str, str], body: str | bytes, status: int
) -> None:
    response = client.http.post("/sign/PL", headers=headers, body=body)

    assert response.status_code == status
    assert {k.lower(): v for k, v in response.headers.items()}["content-type"].startswith("text/html")
    assert b"Nothing you sent has been stored" in response.body
    assert _items(aws, aws_settings.statements_table) == []


def test_unknown_member_state_gets_a_404_page(client: Client) -> None:
    for response in (client.http.get("/sign/XX"), client.http.post("/sign/XX", headers=FORM, body="a=b")):
        assert response.status_code == 404
        assert b"There is no Member State with this code" in response.body


@pytest.mark.parametrize("tamper", ["expired", "forged", "other-state", "honeypot"])
def test_automated_or_stale_submission_gets_a_neutral_page_and_stores_nothing(
    aws: Any, aws_settings: Settings, tamper: str
) -> None:
    current = _use_services(aws_settings, SIGNING_DAY)
    with Client(app_module.app) as client:
        token = _token(client, "DE" if tamper == "other-state" else "PL")
        fields = {"form_token": token, "lang": "en", "homepage": "", **POLISH_CITIZEN}
        if tamper == "expired":
            services.use(replace(current, now=lambda: current.now() + 3 * 3600))
        elif tamper == "forged":
            fields["form_token"] = token[:-4] + "AAAA"
        elif tamper == "honeypot":
            fields["homepage"] = "https://spam.example"
        response = client.http.post("/sign/PL", headers=FORM, body=urlencode(fields))
    services.use(None)

    assert response.status_code == 403
    assert b"could not be accepted" in response.body
    assert _items(aws, aws_settings.statements_table) == []


def test_initiative_page_shows_the_initiative_and_zero_signatories(client: Client) -> None:
    page = client.http.get("/", headers={"accept-language": "fr-BE,fr;q=0.9,en;q=0.5"})

    assert page.status_code == 200
    body = page.body.decode()
    assert 'lang="fr"' in body
    assert "ECI(2026)000042" in body
    assert '<progress max="1000000" value="0"' in body


class _UnavailableStore:
    def add(self, record: Any, fingerprint: str, nonce: Any = None) -> bool:
        raise StorageUnavailableError("statement not stored: ProvisionedThroughputExceededException")


def test_when_storage_fails_the_citizen_keeps_their_form_and_is_asked_to_resend(
    aws: Any, aws_settings: Settings
) -> None:
    current = _use_services(aws_settings, SIGNING_DAY)
    current.__dict__["store"] = _UnavailableStore()  # cached_property: an instance value replaces it
    with Client(app_module.app) as client:
        response = _sign(client, "PL", POLISH_CITIZEN)
    services.use(None)

    assert response.status_code == 503
    page = response.body.decode()
    assert "could not be stored just now" in page
    assert "Wiśniewska-Kowal" in page and 'name="form_token"' in page
