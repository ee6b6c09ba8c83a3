"""Topics, versions, timestamps and outgoing headers (items 2, 3, 8, 9, 11, 12)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from controller.vda5050.errors import InvalidTopicLevel

DEFAULT_INTERFACE_NAME = "uagv"  # §6.3: interfaceName, configurable per AGV
SERIAL_NUMBER = re.compile(r"[A-Za-z0-9_.:-]+")  # §6.3 (3.0 §4.2 states the pattern)
FORBIDDEN_IN_LEVEL = frozenset("/$+#")  # MQTT level separator, system prefix and wildcards


class ProtocolVersion(StrEnum):
    """The full version we speak to an AGV (item 12); 2.0 vehicles get "2.0.0"."""

    V2_1 = "2.1.0"
    V2_0 = "2.0.0"

    @property
    def major(self) -> str:
        return "v" + self.value.split(".", 1)[0]


class Topic(StrEnum):
    """Topic leaves (§6.5)."""

    ORDER = "order"
    INSTANT_ACTIONS = "instantActions"
    STATE = "state"
    VISUALIZATION = "visualization"
    CONNECTION = "connection"
    FACTSHEET = "factsheet"


PUBLISHED_TOPICS = (Topic.ORDER, Topic.INSTANT_ACTIONS)  # MC → AGV (item 2)
SUBSCRIBED_TOPICS = (Topic.STATE, Topic.CONNECTION, Topic.FACTSHEET)  # + VISUALIZATION optional


def _check_level(level: str, value: str) -> None:
    if not value:
        raise InvalidTopicLevel(level, value, "empty")
    bad = sorted(FORBIDDEN_IN_LEVEL.intersection(value))
    if bad:
        raise InvalidTopicLevel(level, value, f"contains {''.join(bad)!r}")


@dataclass(frozen=True, slots=True)
class AgvAddress:
    """Who an AGV is on the wire: `{interfaceName}/{major}/{manufacturer}/{serialNumber}`."""

    manufacturer: str
    serial_number: str
    version: ProtocolVersion = ProtocolVersion.V2_1
    interface_name: str = DEFAULT_INTERFACE_NAME

    def __post_init__(self) -> None:
        _check_level("interfaceName", self.interface_name)
        _check_level("manufacturer", self.manufacturer)
        _check_level("serialNumber", self.serial_number)
        if not SERIAL_NUMBER.fullmatch(self.serial_number):
            raise InvalidTopicLevel(
                "serialNumber", self.serial_number, "only A-Z a-z 0-9 _ . : - are allowed"
            )

    def topic(self, leaf: Topic) -> str:
        """`uagv/v2/acme/agv-001/order` (§6.3); the major always matches `version` (item 12)."""
        return "/".join(
            (self.interface_name, self.version.major, self.manufacturer, self.serial_number, leaf)
        )


def utc_timestamp(now: datetime) -> str:
    """`2026-11-22T09:15:03.12Z`: UTC, fractional seconds, `Z` (item 11, §6.4, 2.x style)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S") + f".{now.microsecond // 10_000:02d}Z"


def parse_timestamp(text: str) -> datetime:
    """Any RFC 3339 timestamp with a zone (`Z`, `z` or an offset), as an aware UTC datetime."""
    value = datetime.fromisoformat(text.strip().upper())
    if value.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no time zone")
    return value.astimezone(UTC)


@dataclass
class HeaderCounter:
    """One `headerId` counter per topic for one AGV (item 9): counts the messages sent on that
    topic, starting at 0; `next_ids` can be persisted and passed back to continue after a
    restart."""

    address: AgvAddress
    next_ids: dict[Topic, int] = field(default_factory=dict)

    def header(self, topic: Topic, now: datetime, *, consume: bool = True) -> dict[str, Any]:
        """The five header fields every message needs (item 8); `consume=False` previews the
        header (to measure a message) without using up its headerId."""
        header_id = self.next_ids.get(topic, 0)
        if consume:
            self.next_ids[topic] = header_id + 1
        return {
            "headerId": header_id,
            "timestamp": utc_timestamp(now),
            "version": self.address.version.value,
            "manufacturer": self.address.manufacturer,
            "serialNumber": self.address.serial_number,
        }
