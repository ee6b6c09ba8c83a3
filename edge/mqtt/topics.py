"""The edge's subscriptions as data: topic filters, what kind of message each carries, and
which device a concrete topic names. Built once from the site config."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from controller.domain.layout import Site

VDA_INTERFACE = "uagv"
VDA_MAJOR = "v2"


class Kind(StrEnum):
    AGV_STATE = "agv_state"
    AGV_CONNECTION = "agv_connection"
    AGV_FACTSHEET = "agv_factsheet"
    RFID = "rfid"
    SORTER = "sorter"
    STATION = "station"
    DOCK = "dock"


@dataclass(frozen=True, slots=True)
class Route:
    filter: str
    kind: Kind
    qos: int


@dataclass(frozen=True, slots=True)
class Matched:
    kind: Kind
    device: str  # AGV serial, reader id, sorter id, station id or door id
    manufacturer: str = ""


def agv_topic(manufacturer: str, serial: str, leaf: str) -> str:
    return f"{VDA_INTERFACE}/{VDA_MAJOR}/{manufacturer}/{serial}/{leaf}"


def reader_topic(site: Site, reader_id: str) -> str:
    return site.reader(reader_id).topic or f"warehouse/{site.site}/rfid/{reader_id}/events"


def station_commands(site_id: str, station_id: str) -> str:
    return f"warehouse/{site_id}/station/{station_id}/commands"


def sorter_commands(site_id: str, sorter_id: str) -> str:
    return f"warehouse/{site_id}/sorter/{sorter_id}/commands"


def controller_status(site_id: str) -> str:
    return f"warehouse/{site_id}/controller/status"


_AGV_LEAVES = {
    "state": Kind.AGV_STATE,
    "connection": Kind.AGV_CONNECTION,
    "factsheet": Kind.AGV_FACTSHEET,
}
_DEVICE_KINDS = {"sorter": Kind.SORTER, "station": Kind.STATION, "dock": Kind.DOCK}


class RouteTable:
    def __init__(self, site: Site) -> None:
        self.site_id = site.site
        manufacturers = sorted({agv.manufacturer for agv in site.agvs})
        self._readers = {reader_topic(site, r.id): r.id for r in site.rfid_readers}
        self.routes: tuple[Route, ...] = (
            # Retained by the AGV (CHECKLIST 72): a (re)subscription brings the current one.
            # Subscribed before `connection`, so that the retained factsheet arrives before
            # the retained ONLINE, which would otherwise ask for one (CHECKLIST 73).
            *(Route(agv_topic(m, "+", "factsheet"), Kind.AGV_FACTSHEET, 1) for m in manufacturers),
            *(Route(agv_topic(m, "+", "state"), Kind.AGV_STATE, 0) for m in manufacturers),
            # VDA 5050 §6.2 / CHECKLIST 5: connection with QoS 1
            *(
                Route(agv_topic(m, "+", "connection"), Kind.AGV_CONNECTION, 1)
                for m in manufacturers
            ),
            *(Route(topic, Kind.RFID, 0) for topic in self._readers),
            Route(f"warehouse/{site.site}/sorter/+/events", Kind.SORTER, 1),
            Route(f"warehouse/{site.site}/station/+/events", Kind.STATION, 1),
            Route(f"warehouse/{site.site}/dock/+/events", Kind.DOCK, 1),
        )

    def match(self, topic: str) -> Matched | None:
        reader = self._readers.get(topic)
        if reader is not None:
            return Matched(Kind.RFID, reader)
        levels = topic.split("/")
        if len(levels) == 5 and levels[:2] == [VDA_INTERFACE, VDA_MAJOR]:
            leaf = _AGV_LEAVES.get(levels[4])
            return Matched(leaf, levels[3], levels[2]) if leaf else None
        if len(levels) == 5 and levels[0] == "warehouse" and levels[1] == self.site_id:
            kind = {"sorter": Kind.SORTER, "station": Kind.STATION, "dock": Kind.DOCK}.get(
                levels[2]
            )
            if kind is not None and levels[4] == "events":
                return Matched(kind, levels[3])
        return None
