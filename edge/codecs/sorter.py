"""The sorter protocol (DESIGN §5.3)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from controller.domain.messages import SorterDivert
from edge.codecs.common import WireModel, dumps, parse_json_object, utc_timestamp, validate

TrackId = Annotated[str, Field(min_length=1)]


class SorterScanned(WireModel):
    event: Literal["scanned"]
    trackId: TrackId
    codes: list[str]


class SorterDiverted(WireModel):
    event: Literal["diverted"]
    trackId: TrackId
    chute: str


class SorterLost(WireModel):
    event: Literal["recirculated", "rejected", "lost"]
    trackId: TrackId
    reason: str = ""


class ChuteStatus(WireModel):
    event: Literal["chuteStatus"]
    chute: str
    state: Literal["AVAILABLE", "FULL", "DISABLED"]


class _Envelope(WireModel):
    event: Annotated[
        SorterScanned | SorterDiverted | SorterLost | ChuteStatus, Field(discriminator="event")
    ]


SorterEvent = SorterScanned | SorterDiverted | SorterLost | ChuteStatus


def decode_event(payload: bytes) -> SorterEvent:
    return validate(_Envelope, {"event": parse_json_object(payload)}).event


def encode_divert(cmd: SorterDivert, now: datetime) -> bytes:
    return dumps(
        {
            "command": "divert",
            "trackId": cmd.track_id,
            "chute": cmd.chute,
            "ts": utc_timestamp(now, 3),
        }
    )
