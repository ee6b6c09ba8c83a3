"""Dock door events (docs/protocols.md, "Dock door")."""

from __future__ import annotations

from typing import Literal

from edge.codecs.common import WireModel, parse_json_object, validate


class TruckDeparted(WireModel):
    event: Literal["truckDeparted"]
    ts: str  # also tells a redelivered departure from the next one


def decode_event(payload: bytes) -> TruckDeparted:
    return validate(TruckDeparted, parse_json_object(payload))
