"""RFID reader payloads → tag reads (docs/protocols.md, "RFID readers").

Two formats: Zebra IoT Connector (`zebra`) and Impinj IoT Device Interface (`impinj`). A
payload is one JSON object, a JSON array of objects, or newline-delimited objects (blank
lines ignored). Objects that are not tag reads (Zebra heartbeats and management events:
a `type` but no `data.idHex`; Impinj events other than `tagInventory`) are skipped. Anything
malformed raises PayloadError, and the whole payload is dropped: a reader that sends one
broken object in a batch is misbehaving, and a partial batch would only hide it.

The EPC stays hex here (uppercase); the controller decodes it (controller.domain.epc).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field

from controller.domain.epc import epc_from_base64
from controller.domain.errors import InvalidEpc
from edge.codecs.common import WireModel, validate
from edge.codecs.errors import PayloadError

__all__ = ["ReaderFormat", "TagRead", "parse_reader_payload"]

ReaderFormat = Literal["zebra", "impinj"]

CENTI_DBM_PER_DBM: Final = 100  # Impinj reports RSSI in hundredths of a dBm
IMPINJ_TAG_EVENT: Final = "tagInventory"
ECHO_CHARS: Final = 64  # a 496-bit EPC is 124 hex digits; more than half of one is enough

_HEX: Final = re.compile(r"[0-9A-Fa-f]+")
_JSON_KINDS: Final[dict[type, str]] = {
    dict: "object",
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}


@dataclass(frozen=True, slots=True)
class TagRead:
    """One tag seen by one reader; `count` reads aggregated by the reader into this one."""

    epc_hex: str
    rssi_dbm: float
    antenna: int | None
    read_at: datetime | None
    count: int = 1


def _echo(value: str) -> str:
    """A bad value for a log line: quoted, and cut short so that junk cannot flood the log."""
    return repr(value) if len(value) <= ECHO_CHARS else repr(value[:ECHO_CHARS]) + "…"


def _timestamp(value: Any) -> Any:
    """RFC 3339 with an offset; Zebra writes it without a colon (`+0000`). Returned in UTC."""
    if not isinstance(value, str):
        return value  # None stays None; any other type fails the datetime check
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not an ISO 8601 timestamp: {_echo(value)}") from None
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp without a UTC offset: {_echo(value)}")
    return parsed.astimezone(UTC)


def _hex_upper(value: str) -> str:
    if not _HEX.fullmatch(value):
        raise ValueError(f"not hexadecimal: {_echo(value)}")
    return value.upper()


Timestamp = Annotated[datetime | None, BeforeValidator(_timestamp)]
HexEpc = Annotated[str, AfterValidator(_hex_upper)]


class _StrictWireModel(WireModel):
    """Unknown fields ignored; the fields we use must have exactly the JSON type we expect
    (no "48" for 48, no true for 1, no NaN)."""

    model_config = ConfigDict(strict=True, allow_inf_nan=False)


class ZebraTagData(_StrictWireModel):
    id_hex: HexEpc = Field(alias="idHex")
    peak_rssi: float = Field(alias="peakRssi")
    antenna: int | None = Field(default=None, ge=0)
    reads: int = Field(default=1, ge=1)


class ZebraTagReadPayload(_StrictWireModel):
    timestamp: Timestamp = None
    data: ZebraTagData


class ImpinjTagInventoryEvent(_StrictWireModel):
    epc: str | None = None
    epc_hex: HexEpc | None = Field(default=None, alias="epcHex")
    antenna_port: int | None = Field(default=None, alias="antennaPort", ge=0)
    peak_rssi_cdbm: int = Field(alias="peakRssiCdbm")


class ImpinjTagInventoryPayload(_StrictWireModel):
    timestamp: Timestamp = None
    tag_inventory_event: ImpinjTagInventoryEvent = Field(alias="tagInventoryEvent")


def parse_reader_payload(payload: bytes, fmt: ReaderFormat) -> list[TagRead]:
    """The tag reads in one reader message; raises PayloadError if any part is malformed."""
    if fmt == "zebra":
        parse = _zebra
    elif fmt == "impinj":
        parse = _impinj
    else:
        raise ValueError(f"unknown reader format {fmt!r}")  # a config bug, not a bad payload
    objects = _json_objects(payload)
    reads: list[TagRead] = []
    for index, obj in enumerate(objects):
        try:
            read = parse(obj)
        except PayloadError as exc:
            if len(objects) == 1:
                raise
            raise PayloadError(f"object {index}: {exc.reason}") from None
        if read is not None:
            reads.append(read)
    return reads


def _zebra(obj: dict[str, Any]) -> TagRead | None:
    data = obj.get("data")
    if not isinstance(data, dict) or "idHex" not in data:
        # Every IoT Connector message names its `type`: a typed one without a tag is a
        # heartbeat or management event; an untyped one is not from a Zebra reader at all.
        if isinstance(obj.get("type"), str):
            return None
        raise PayloadError("not a Zebra IoT Connector message: no type and no data.idHex")
    msg = validate(ZebraTagReadPayload, obj)
    return TagRead(
        epc_hex=msg.data.id_hex,
        rssi_dbm=msg.data.peak_rssi,
        antenna=msg.data.antenna,
        read_at=msg.timestamp,
        count=msg.data.reads,
    )


def _impinj(obj: dict[str, Any]) -> TagRead | None:
    event_type = obj.get("eventType")
    if not isinstance(event_type, str):
        raise PayloadError("eventType: missing or not a string")
    if event_type != IMPINJ_TAG_EVENT:
        return None  # antennaConnected, inventoryStatus, ...: not reads
    msg = validate(ImpinjTagInventoryPayload, obj)
    event = msg.tag_inventory_event
    epc_hex = event.epc_hex
    if event.epc is not None:
        try:
            from_base64 = epc_from_base64(event.epc)
        except InvalidEpc as exc:
            raise PayloadError(f"tagInventoryEvent.epc: {exc.problem}") from None
        if epc_hex is not None and epc_hex != from_base64:
            raise PayloadError(
                f"tagInventoryEvent: epc ({from_base64}) and epcHex ({epc_hex}) disagree"
            )
        epc_hex = from_base64
    if epc_hex is None:
        raise PayloadError("tagInventoryEvent: neither epc nor epcHex")
    return TagRead(
        epc_hex=epc_hex,
        rssi_dbm=event.peak_rssi_cdbm / CENTI_DBM_PER_DBM,
        antenna=event.antenna_port,
        read_at=msg.timestamp,
    )


def _json_objects(payload: bytes) -> list[dict[str, Any]]:
    """One object, an array of objects, or newline-delimited objects."""
    try:
        text = payload.decode("utf-8-sig")  # a leading BOM is tolerated
    except UnicodeDecodeError as exc:
        raise PayloadError(f"not UTF-8: {exc}") from None
    if not text.strip():
        raise PayloadError("empty payload")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        if "\n" not in text.strip():
            raise PayloadError(f"not JSON: {exc}") from None
        return _json_lines(text)
    except RecursionError:
        raise PayloadError("not JSON: nested too deeply") from None
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise PayloadError(f"array item {index}: expected an object, got {_kind(item)}")
        return value
    raise PayloadError(f"expected an object or an array of objects, got {_kind(value)}")


def _json_lines(text: str) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise PayloadError(f"line {number}: not JSON: {exc}") from None
        except RecursionError:
            raise PayloadError(f"line {number}: not JSON: nested too deeply") from None
        if not isinstance(value, dict):
            raise PayloadError(f"line {number}: expected an object, got {_kind(value)}")
        objects.append(value)
    return objects


def _kind(value: object) -> str:
    return _JSON_KINDS.get(type(value), type(value).__name__)
