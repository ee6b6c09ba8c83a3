"""Zebra IoT Connector and Impinj IoT Device Interface payloads → TagRead
(docs/protocols.md, "RFID readers")."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from edge.codecs.errors import PayloadError
from edge.codecs.rfid import TagRead, parse_reader_payload

V2_HEX = "3034257BF7194E4000001A85"
V2_B64 = "MDQle_cZTkAAABqF"
V9_HEX = "3114257BF4499602D2000000"
V9_B64 = "MRQle_RJlgLSAAAA"
AT_10 = datetime(2026, 11, 22, 10, 0, 0, 123000, tzinfo=UTC)


def zebra(
    id_hex: str = "3034257bf7194e4000001a85",
    timestamp: str | None = "2026-11-22T10:00:00.123+0000",
    **data: Any,
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "idHex": id_hex,
        "antenna": 1,
        "peakRssi": -48,
        "reads": 3,
        "eventNum": 17,
        "format": "epc",
    }
    fields.update(data)
    message: dict[str, Any] = {"type": "SIMPLE", "data": fields}
    if timestamp is not None:
        message["timestamp"] = timestamp
    return message


def impinj(event: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    message: dict[str, Any] = {
        "timestamp": "2026-11-22T10:00:00.123456Z",
        "hostname": "impinj-14-1d-30",
        "eventType": "tagInventory",
        "tagInventoryEvent": {
            "epc": V2_B64,
            "epcHex": V2_HEX,
            "antennaPort": 1,
            "peakRssiCdbm": -4800,
        }
        if event is None
        else event,
    }
    message.update(top)
    return message


def encode(*objects: Any) -> bytes:
    return json.dumps(objects[0] if len(objects) == 1 else list(objects)).encode()


def ndjson(*objects: Any, sep: str = "\n") -> bytes:
    return sep.join(json.dumps(o) for o in objects).encode()


# --- Zebra --------------------------------------------------------------------------------


def test_zebra_documented_example_gives_one_read() -> None:
    assert parse_reader_payload(encode(zebra()), "zebra") == [
        TagRead(epc_hex=V2_HEX, rssi_dbm=-48.0, antenna=1, read_at=AT_10, count=3)
    ]


def test_zebra_array_gives_one_read_per_object() -> None:
    reads = parse_reader_payload(encode(zebra(), zebra(V9_HEX.lower(), peakRssi=-61.5)), "zebra")
    assert [(r.epc_hex, r.rssi_dbm) for r in reads] == [(V2_HEX, -48.0), (V9_HEX, -61.5)]


def test_zebra_newline_delimited_objects_with_blank_lines_and_crlf() -> None:
    payload = b"\r\n".join([encode(zebra()), b"", b"   ", encode(zebra(V9_HEX))]) + b"\r\n\n"
    reads = parse_reader_payload(payload, "zebra")
    assert [r.epc_hex for r in reads] == [V2_HEX, V9_HEX]


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        ("2026-11-22T10:00:00.123+0000", AT_10),
        ("2026-11-22T10:00:00.123Z", AT_10),
        ("2026-11-22T10:00:00.123+00:00", AT_10),
        ("2026-11-22T11:00:00.123+0100", AT_10),
        ("2026-11-22T05:00:00.123-05:00", AT_10),
        ("2026-11-22T10:00:00Z", datetime(2026, 11, 22, 10, tzinfo=UTC)),
    ],
)
def test_zebra_timestamp_forms_are_read_as_utc(timestamp: str, expected: datetime) -> None:
    (read,) = parse_reader_payload(encode(zebra(timestamp=timestamp)), "zebra")
    assert read.read_at == expected
    assert read.read_at is not None
    assert read.read_at.utcoffset() is not None
    assert read.read_at.tzinfo == UTC


def test_zebra_read_without_timestamp_has_no_read_at() -> None:
    (read,) = parse_reader_payload(encode(zebra(timestamp=None)), "zebra")
    assert read.read_at is None


def test_zebra_reads_defaults_to_one_and_antenna_is_optional() -> None:
    message = zebra()
    del message["data"]["reads"]
    del message["data"]["antenna"]
    (read,) = parse_reader_payload(encode(message), "zebra")
    assert (read.count, read.antenna) == (1, None)


def test_zebra_heartbeat_and_management_objects_are_ignored() -> None:
    heartbeat = {"type": "heartbeat", "timestamp": "2026-11-22T10:00:00Z", "data": {"uptime": 9}}
    management = {"type": "management", "component": "radio", "status": "ok"}
    no_data = {"type": "SIMPLE", "data": "x"}
    assert parse_reader_payload(encode(heartbeat), "zebra") == []
    reads = parse_reader_payload(ndjson(heartbeat, zebra(), management, no_data), "zebra")
    assert [r.epc_hex for r in reads] == [V2_HEX]


def test_zebra_tag_read_without_a_type_is_still_a_read() -> None:
    message = zebra()
    del message["type"]
    (read,) = parse_reader_payload(encode(message), "zebra")
    assert read.epc_hex == V2_HEX


def test_zebra_unknown_fields_are_ignored() -> None:
    message = zebra(userDefined="pallet", tidHex="E2801160")
    message["vendorExtension"] = {"anything": [1, 2, 3]}
    (read,) = parse_reader_payload(encode(message), "zebra")
    assert read.epc_hex == V2_HEX


# --- Impinj -------------------------------------------------------------------------------


def test_impinj_documented_example_gives_one_read_in_dbm() -> None:
    assert parse_reader_payload(encode(impinj()), "impinj") == [
        TagRead(
            epc_hex=V2_HEX,
            rssi_dbm=-48.0,
            antenna=1,
            read_at=datetime(2026, 11, 22, 10, 0, 0, 123456, tzinfo=UTC),
            count=1,
        )
    ]


def test_impinj_base64_epc_and_hex_epc_give_the_same_read() -> None:
    only_b64 = impinj({"epc": V9_B64, "antennaPort": 2, "peakRssiCdbm": -6550})
    only_hex = impinj({"epcHex": V9_HEX.lower(), "antennaPort": 2, "peakRssiCdbm": -6550})
    assert parse_reader_payload(encode(only_b64), "impinj") == parse_reader_payload(
        encode(only_hex), "impinj"
    )
    (read,) = parse_reader_payload(encode(only_b64), "impinj")
    assert (read.epc_hex, read.rssi_dbm, read.antenna) == (V9_HEX, -65.5, 2)


def test_impinj_base64_with_or_without_padding_is_accepted() -> None:
    v8 = "362579D5D4ADB6172574B98B34C0000000000000000000000000"
    padded = base64.urlsafe_b64encode(bytes.fromhex(v8)).decode()
    assert padded.endswith("=")
    for epc in (padded, padded.rstrip("=")):
        (read,) = parse_reader_payload(
            encode(impinj({"epc": epc, "peakRssiCdbm": -5000})), "impinj"
        )
        assert read.epc_hex == v8


@pytest.mark.parametrize("event_type", ["antennaConnected", "inventoryStatus", "gpiTransition"])
def test_impinj_events_other_than_tag_inventory_are_ignored(event_type: str) -> None:
    other = {"timestamp": "2026-11-22T10:00:00Z", "eventType": event_type, "x": {"y": 1}}
    assert parse_reader_payload(encode(other), "impinj") == []
    reads = parse_reader_payload(ndjson(other, impinj(), other), "impinj")
    assert [r.epc_hex for r in reads] == [V2_HEX]


def test_impinj_array_and_newline_delimited_forms_give_the_same_reads() -> None:
    first = impinj()
    second = impinj({"epcHex": V9_HEX, "antennaPort": 4, "peakRssiCdbm": -7012})
    as_array = parse_reader_payload(encode(first, second), "impinj")
    as_lines = parse_reader_payload(ndjson(first, second) + b"\n", "impinj")
    assert as_array == as_lines
    assert [(r.epc_hex, r.rssi_dbm, r.antenna) for r in as_array] == [
        (V2_HEX, -48.0, 1),
        (V9_HEX, -70.12, 4),
    ]


def test_empty_array_has_no_reads() -> None:
    assert parse_reader_payload(b"[]", "impinj") == []


# --- malformed ----------------------------------------------------------------------------


def _without(message: dict[str, Any], *path: str) -> dict[str, Any]:
    inner = message
    for key in path[:-1]:
        inner = inner[key]
    del inner[path[-1]]
    return message


MALFORMED: list[tuple[str, str, bytes, str]] = [
    ("not-json", "zebra", b"hello", "not JSON"),
    ("empty", "zebra", b"", "empty payload"),
    ("blank", "impinj", b" \n\n ", "empty payload"),
    ("not-utf8", "zebra", b'{"a": "\xff"}', "not UTF-8"),
    ("number", "zebra", b"42", "got number"),
    ("string", "impinj", b'"tag"', "got string"),
    ("array-of-numbers", "zebra", b"[1, 2]", "array item 0: expected an object, got number"),
    ("nested-array", "impinj", b"[[]]", "array item 0: expected an object, got array"),
    ("ndjson-array-line", "zebra", ndjson(zebra(), [1]), "line 2: expected an object"),
    ("ndjson-broken-line", "zebra", ndjson(zebra()) + b"\n{broken", "line 2: not JSON"),
    ("too-deep", "zebra", b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ("zebra-not-a-zebra-message", "zebra", b'{"unexpected": "shape"}', "no type and no data.idHex"),
    ("zebra-untyped-no-idhex", "zebra", encode({"data": {"uptime": 9}}), "not a Zebra"),
    ("zebra-idhex-not-hex", "zebra", encode(zebra("30XYZ")), "data.idHex"),
    ("zebra-idhex-empty", "zebra", encode(zebra("")), "data.idHex"),
    ("zebra-idhex-null", "zebra", encode(zebra(None)), "data.idHex"),  # type: ignore[arg-type]
    ("zebra-idhex-number", "zebra", encode(zebra(3034)), "data.idHex"),  # type: ignore[arg-type]
    ("zebra-no-rssi", "zebra", encode(_without(zebra(), "data", "peakRssi")), "data.peakRssi"),
    ("zebra-rssi-text", "zebra", encode(zebra(peakRssi="-48")), "data.peakRssi"),
    ("zebra-rssi-bool", "zebra", encode(zebra(peakRssi=True)), "data.peakRssi"),
    ("zebra-rssi-nan", "zebra", json.dumps(zebra(peakRssi=float("nan"))).encode(), "peakRssi"),
    ("zebra-reads-zero", "zebra", encode(zebra(reads=0)), "data.reads"),
    ("zebra-reads-float", "zebra", encode(zebra(reads=2.5)), "data.reads"),
    ("zebra-antenna-text", "zebra", encode(zebra(antenna="1")), "data.antenna"),
    ("zebra-bad-timestamp", "zebra", encode(zebra(timestamp="yesterday")), "timestamp"),
    ("zebra-naive-timestamp", "zebra", encode(zebra(timestamp="2026-11-22T10:00:00")), "offset"),
    ("zebra-timestamp-number", "zebra", encode({**zebra(), "timestamp": 17}), "timestamp"),
    ("impinj-no-event-type", "impinj", encode(_without(impinj(), "eventType")), "eventType"),
    ("impinj-event-type-number", "impinj", encode(impinj(eventType=7)), "eventType"),
    (
        "impinj-no-event-body",
        "impinj",
        encode(_without(impinj(), "tagInventoryEvent")),
        "tagInventoryEvent",
    ),
    (
        "impinj-no-rssi",
        "impinj",
        encode(_without(impinj(), "tagInventoryEvent", "peakRssiCdbm")),
        "tagInventoryEvent.peakRssiCdbm",
    ),
    (
        "impinj-rssi-float",
        "impinj",
        encode(impinj({"epcHex": V2_HEX, "peakRssiCdbm": -4800.5})),
        "peakRssiCdbm",
    ),
    ("impinj-no-epc", "impinj", encode(impinj({"peakRssiCdbm": -4800})), "neither epc nor epcHex"),
    (
        "impinj-bad-base64",
        "impinj",
        encode(impinj({"epc": "!!not base64", "peakRssiCdbm": -4800})),
        "tagInventoryEvent.epc",
    ),
    (
        "impinj-epchex-not-hex",
        "impinj",
        encode(impinj({"epcHex": "not hex", "peakRssiCdbm": -4800})),
        "tagInventoryEvent.epcHex",
    ),
    (
        "impinj-epc-and-epchex-disagree",
        "impinj",
        encode(impinj({"epc": V2_B64, "epcHex": V9_HEX, "peakRssiCdbm": -4800})),
        "disagree",
    ),
    (
        "one-bad-object-in-an-array",
        "zebra",
        encode(zebra(), zebra(peakRssi=None)),
        "object 1: data.peakRssi",
    ),
    (
        "one-bad-line",
        "impinj",
        ndjson(impinj(), impinj(), _without(impinj(), "eventType")),
        "object 2: eventType",
    ),
]


@pytest.mark.parametrize(
    ("fmt", "payload", "reason"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_malformed_payload_raises_payload_error_with_a_useful_reason(
    fmt: Any, payload: bytes, reason: str
) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_reader_payload(payload, fmt)
    assert reason in caught.value.reason
    assert isinstance(caught.value, ValueError)
    assert str(caught.value) == caught.value.reason


def test_a_huge_bad_value_is_not_echoed_in_full() -> None:
    with pytest.raises(PayloadError) as caught:
        parse_reader_payload(encode(zebra("Z" * 100_000)), "zebra")
    assert len(caught.value.reason) < 200


def test_unknown_reader_format_is_a_programming_error_not_a_bad_payload() -> None:
    with pytest.raises(ValueError, match="unknown reader format") as caught:
        parse_reader_payload(encode(zebra()), "alien")  # type: ignore[arg-type]
    assert not isinstance(caught.value, PayloadError)
