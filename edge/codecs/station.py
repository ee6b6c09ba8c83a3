"""The pick/pack station terminal protocol (docs/protocols.md, "Station terminal")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from controller.domain.messages import (
    StationCancel,
    StationCloseCarton,
    StationLabel,
    StationPick,
    StationPutBack,
    StationReject,
)
from edge.codecs.common import WireModel, dumps, parse_json_object, utc_timestamp, validate

Id = Annotated[str, Field(min_length=1)]


class StationPicked(WireModel):
    event: Literal["picked"]
    taskId: Id
    orderId: Id
    qty: int = Field(ge=0)


class CartonClosed(WireModel):
    event: Literal["cartonClosed"]
    orderId: Id


class Labelled(WireModel):
    event: Literal["labelled"]
    orderId: Id
    sscc: str


class PutBackConfirmed(WireModel):
    event: Literal["putBack"]
    taskId: Id
    qty: int = Field(ge=0)


StationEvent = StationPicked | CartonClosed | Labelled | PutBackConfirmed
StationCommand = (
    StationPick | StationCloseCarton | StationLabel | StationReject | StationCancel | StationPutBack
)


class _Envelope(WireModel):
    event: Annotated[StationEvent, Field(discriminator="event")]


def decode_event(payload: bytes) -> StationEvent:
    return validate(_Envelope, {"event": parse_json_object(payload)}).event


def encode_command(cmd: StationCommand, now: datetime) -> bytes:
    body: dict[str, Any]
    match cmd:
        case StationPick():
            body = {
                "command": "pick",
                "taskId": cmd.task_id,
                "orderId": cmd.order_id,
                "lineId": cmd.line_id,
                "toteId": cmd.tote_id,
                "sku": cmd.sku,
                "gtin": cmd.gtin,
                "qty": cmd.qty,
            }
        case StationCloseCarton():
            body = {"command": "closeCarton", "orderId": cmd.order_id}
        case StationLabel():
            body = {
                "command": "label",
                "orderId": cmd.order_id,
                "sscc": cmd.sscc,
                "carrier": cmd.carrier,
            }
        case StationReject():
            body = {"command": "reject", "orderId": cmd.order_id, "reason": cmd.reason}
        case StationCancel():
            body = {"command": "cancel", "orderId": cmd.order_id}
        case StationPutBack():
            body = {
                "command": "putBack",
                "taskId": cmd.task_id,
                "putbackId": cmd.putback_id,
                "orderId": cmd.order_id,
                "lineId": cmd.line_id,
                "toteId": cmd.tote_id,
                "sku": cmd.sku,
                "gtin": cmd.gtin,
                "qty": cmd.qty,
            }
    return dumps(body | {"ts": utc_timestamp(now, 3)})
