"""Shared helpers of the device codecs: strict-enough JSON decoding and timestamps."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from edge.codecs.errors import PayloadError

ModelT = TypeVar("ModelT", bound=BaseModel)


class WireModel(BaseModel):
    """Device payloads: unknown fields ignored, the fields we use validated."""

    model_config = ConfigDict(extra="ignore", frozen=True)


def parse_json_object(payload: bytes) -> dict[str, Any]:
    try:
        value = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError(f"not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise PayloadError(f"expected a JSON object, got {type(value).__name__}")
    return value


def validate(model: type[ModelT], value: Any) -> ModelT:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(root)"
        raise PayloadError(f"{where}: {first['msg']}") from None


def utc_timestamp(now: datetime, digits: int = 2) -> str:
    """`2026-11-22T10:00:00.12Z`: UTC, fractional seconds, a `Z` (VDA 5050 2.x style)."""
    now = now.astimezone(UTC)
    fraction = f"{now.microsecond:06d}"[:digits]
    return now.strftime("%Y-%m-%dT%H:%M:%S") + f".{fraction}Z"


def dumps(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), allow_nan=False).encode()
