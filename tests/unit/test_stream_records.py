"""What the count function reads in each stream record: a signatory more or less, nothing, or poison."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.counting.stream_records import (
    CountedChange,
    IgnoredRecord,
    PoisonRecord,
    parse_record,
    records_of_event,
)
from chalicelib.local.stream_events import lambda_stream_record
from tests.unit.stream_specimens import INITIATIVE, STREAM_ARN, MiniatureTable, lambda_records, parsed


def test_a_polish_signature_counts_one_more_for_poland() -> None:
    table = MiniatureTable()
    _, insert = table.sign("PL")

    [record] = parsed([insert])

    assert isinstance(record, CountedChange)
    assert (record.initiative_id, record.member_state, record.delta) == (INITIATIVE, "PL", 1)
    assert record.record_id == insert["eventID"]
    assert record.sequence_number == insert["dynamodb"]["SequenceNumber"]


def test_an_organiser_deleting_a_statement_counts_one_fewer() -> None:
    table = MiniatureTable()
    statement, _ = table.sign("DE")

    [record] = parsed([table.remove(statement)])

    assert isinstance(record, CountedChange) and record.delta == -1 and record.is_removal


def test_statements_destroyed_by_ttl_change_no_count() -> None:
    table = MiniatureTable()
    statement, _ = table.sign("DE")

    [record] = parsed([table.remove(statement, by_ttl=True)])

    assert isinstance(record, IgnoredRecord) and record.why == "expired"


def test_duplicate_markers_and_modifications_change_no_count() -> None:
    table = MiniatureTable()
    statement, insert = table.sign("FR")
    modified = table.raw("MODIFY", insert["dynamodb"]["Keys"]["pk"]["S"], statement)

    records = parsed([table.duplicate_marker(), modified, table.raw("INSERT", "SOMETHING-ELSE")])

    assert [type(record) for record in records] == [IgnoredRecord] * 3
    assert [record.why for record in records] == ["not a statement", "modified", "not a statement"]  # type: ignore[union-attr]


def test_lambda_records_carry_the_stream_arn_region_and_epoch_seconds() -> None:
    table = MiniatureTable()
    statement, _ = table.sign("IT")

    [delivered] = lambda_records([table.remove(statement, by_ttl=True)])

    assert delivered["eventSourceARN"] == STREAM_ARN
    assert delivered["awsRegion"] == "eu-central-1"
    assert isinstance(delivered["dynamodb"]["ApproximateCreationDateTime"], int)
    assert delivered["userIdentity"] == {"type": "Service", "principalId": "dynamodb.amazonaws.com"}


def _poison(raw: Any) -> PoisonRecord:
    record = parse_record(raw)
    assert isinstance(record, PoisonRecord), record
    return record


def _delivered(pk: str, sk: str = "7d3f", event_name: str = "INSERT") -> dict[str, Any]:
    return lambda_stream_record(MiniatureTable().raw(event_name, pk, sk), STREAM_ARN)


def test_a_statement_key_that_does_not_parse_is_poison_naming_its_initiative() -> None:
    for pk, reason_initiative in (
        ("S#clean-rivers#PL#03#extra", INITIATIVE),
        ("S#clean-rivers#XX#03", INITIATIVE),  # no such Member State
        ("S#clean-rivers#PL#16", INITIATIVE),  # buckets are 00..15
        ("S#clean-rivers#PL#3", INITIATIVE),
        ("S#clean-rivers", INITIATIVE),  # cut short after the initiative
        ("S#clean-rivers#PL#ab", INITIATIVE),  # a bucket of letters
        ("S#Clean Rivers!#PL#03", None),
        ("S#", None),
    ):
        poison = _poison(_delivered(pk))
        assert poison.reason == "malformed statement key", pk
        assert poison.initiative_id == reason_initiative, pk
        assert poison.partition_key == pk


def test_records_without_keys_event_name_or_ids_are_poison() -> None:
    good = _delivered("S#clean-rivers#PL#03")
    no_keys = {**good, "dynamodb": {**good["dynamodb"], "Keys": {}}}
    unknown_event = {**good, "eventName": "TRUNCATE"}
    no_event_id = {key: value for key, value in good.items() if key != "eventID"}
    no_sequence = {**good, "dynamodb": {**good["dynamodb"], "SequenceNumber": "12ab"}}

    assert _poison(no_keys).reason == "no partition key"
    for partition_key in ({"S": ""}, {"S": 42}, {"N": "3"}):
        odd_key = {**good, "dynamodb": {**good["dynamodb"], "Keys": {"pk": partition_key, "sk": {"S": "7d3f"}}}}
        assert _poison(odd_key).reason == "no partition key", partition_key
    assert _poison(unknown_event).reason == "unknown event name"
    assert _poison(no_sequence).reason == "no sequence number"
    assert _poison({**good, "dynamodb": "S#clean-rivers#PL#03"}).reason == "no dynamodb section"
    lost = _poison(no_event_id)
    assert lost.reason == "no eventID"
    assert lost.record_id == _poison(dict(no_event_id)).record_id  # the same on every redelivery
    assert _poison("not a record").reason == "record is not an object"


def test_a_signature_whose_record_has_the_longest_sequence_number_dynamodb_gives_counts() -> None:
    # DynamoDB stream sequence numbers have 21 to 40 digits.
    good = _delivered("S#clean-rivers#PL#03")
    longest = "9" * 40
    counted = parse_record({**good, "dynamodb": {**good["dynamodb"], "SequenceNumber": longest}})

    assert isinstance(counted, CountedChange) and counted.sequence_number == longest
    too_long = _poison({**good, "dynamodb": {**good["dynamodb"], "SequenceNumber": longest + "9"}})
    assert too_long.reason == "no sequence number"


def test_a_dead_letter_tells_the_operator_which_event_it_was() -> None:
    removal = _poison(_delivered("S#clean-rivers#PL#16", event_name="REMOVE"))

    assert removal.event_name == "REMOVE"


def test_an_event_name_that_is_not_text_is_a_dead_letter_without_one() -> None:
    good = _delivered("S#clean-rivers#PL#03")

    for odd_name in (["INSERT"], {"S": "INSERT"}, 1):
        dead_letter = _poison({**good, "eventName": odd_name})
        assert (dead_letter.reason, dead_letter.event_name) == ("unknown event name", None), odd_name


def test_an_event_id_that_is_empty_or_not_text_is_a_dead_letter_not_a_count() -> None:
    # The event id is what makes counting exactly once: records sharing "" or a number cannot be told apart.
    good = _delivered("S#clean-rivers#PL#03")

    for odd_id in ("", 42, ["e1"]):
        dead_letter = _poison({**good, "eventID": odd_id})
        assert dead_letter.reason == "no eventID", odd_id
        assert dead_letter.record_id == f"seq:{good['dynamodb']['SequenceNumber']}"


def test_each_dead_letter_without_an_event_id_keeps_a_name_of_its_own_on_every_redelivery() -> None:
    good = _delivered("S#clean-rivers#PL#03")
    no_event_id = {key: value for key, value in good.items() if key != "eventID"}
    # Neither an event id nor a sequence number: named by content, so two such records stay two dead letters.
    insert = {"eventName": "INSERT", "dynamodb": {"Keys": {}}}
    remove = {"eventName": "REMOVE", "dynamodb": {"Keys": {}}}
    insert_keys_reordered = {"dynamodb": {"Keys": {}}, "eventName": "INSERT"}
    # What a local pump reads with boto3 may hold values JSON has no type for: still no exception.
    with_a_datetime = {"eventName": "INSERT", "dynamodb": {"ApproximateCreationDateTime": datetime(2026, 12, 6)}}

    assert _poison(no_event_id).record_id == f"seq:{good['dynamodb']['SequenceNumber']}"
    assert _poison(insert).record_id.startswith("sha256:")
    assert _poison(insert).record_id != _poison(remove).record_id
    assert _poison(insert_keys_reordered).record_id == _poison(insert).record_id
    assert _poison(with_a_datetime).record_id.startswith("sha256:")


def test_two_deliveries_that_are_not_records_are_two_dead_letters_for_the_operator() -> None:
    # Named by their content: one dead letter must not overwrite the other, and redelivery keeps the name.
    a_list, a_number = _poison(["S#clean-rivers#PL#03"]), _poison(42)

    assert a_list.record_id != a_number.record_id
    assert a_list.record_id == _poison(["S#clean-rivers#PL#03"]).record_id


def test_a_delivery_that_is_not_a_record_shows_the_operator_no_sequence_number() -> None:
    # It has none: a made-up one would send the operator looking for it in the stream.
    dead_letter = _poison("not a record")

    assert dead_letter.sequence_number == ""
    assert dead_letter.sort_key.startswith("no-sequence#")


def test_dead_letters_sort_by_sequence_number_as_numbers_do() -> None:
    short = PoisonRecord("a", "99", None, "r", None, None)
    long = PoisonRecord("b", "100", None, "r", None, None)

    assert short.sort_key < long.sort_key
    assert len(short.sort_key.split("#")[0]) == 40


def test_an_event_without_records_is_an_empty_batch() -> None:
    assert records_of_event({}) == []
    assert records_of_event({"Records": "nonsense"}) == []


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=12,
)
_KEYS = st.fixed_dictionaries(
    {}, optional={"pk": st.fixed_dictionaries({"S": st.text(max_size=30)}) | _JSON, "sk": _JSON}
)
_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "eventID": st.one_of(st.text(max_size=6), _JSON),
        "eventName": st.sampled_from(["INSERT", "MODIFY", "REMOVE", "X"]) | _JSON,
        "dynamodb": st.fixed_dictionaries(
            {}, optional={"Keys": _KEYS | _JSON, "SequenceNumber": st.text(max_size=5) | _JSON}
        ) | _JSON,
        "userIdentity": _JSON,
    },
)


@settings(max_examples=300, deadline=None)
@given(_FIELDS | _JSON)
def test_no_record_however_malformed_makes_the_count_function_raise(raw: Any) -> None:
    record = parse_record(raw)

    assert isinstance(record, CountedChange | IgnoredRecord | PoisonRecord)
    assert record.record_id
