"""A site as frozen data: the floor graph, devices and stock locations from `config/sites/`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum


class NodeKind(StrEnum):
    AISLE = "aisle"
    RACK = "rack"
    STATION = "station"
    SORTER_INDUCT = "sorter_induct"
    CHARGER = "charger"
    PARKING = "parking"


class ReaderFormat(StrEnum):
    ZEBRA = "zebra"
    IMPINJ = "impinj"


@dataclass(frozen=True, slots=True)
class Node:
    id: str
    x: float
    y: float
    kind: NodeKind


@dataclass(frozen=True, slots=True)
class Edge:
    a: str
    b: str
    length_m: float


@dataclass(frozen=True, slots=True)
class AgvSpec:
    serial_number: str
    manufacturer: str
    start_node: str
    speed_mps: float


@dataclass(frozen=True, slots=True)
class Station:
    id: str
    node: str
    rfid_reader: str


@dataclass(frozen=True, slots=True)
class Carrier:
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class Chute:
    id: str
    carrier: str | None


@dataclass(frozen=True, slots=True)
class Sorter:
    id: str
    induct_node: str
    decision_window_ms: int
    reject_chute: str
    chutes: tuple[Chute, ...]


@dataclass(frozen=True, slots=True)
class DockDoor:
    id: str
    carriers: tuple[str, ...]
    rfid_reader: str


@dataclass(frozen=True, slots=True)
class RfidReader:
    id: str
    format: ReaderFormat
    min_rssi_dbm: float
    topic: str | None


@dataclass(frozen=True, slots=True)
class Bin:
    """A rack location: one tote of one SKU, at a rack node."""

    node: str
    tote_id: str
    qty: int


@dataclass(frozen=True, slots=True)
class Sku:
    sku: str
    gtin: str
    name: str
    bins: tuple[Bin, ...]


@dataclass(frozen=True, slots=True)
class Gs1:
    company_prefix: str
    sscc_extension_digit: int


@dataclass(frozen=True, slots=True)
class Site:
    site: str
    name: str
    map_id: str
    gs1: Gs1
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    agvs: tuple[AgvSpec, ...]
    stations: tuple[Station, ...]
    carriers: tuple[Carrier, ...]
    sorter: Sorter
    dock_doors: tuple[DockDoor, ...]
    rfid_readers: tuple[RfidReader, ...]
    skus: tuple[Sku, ...]

    def node(self, node_id: str) -> Node:
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)

    def station(self, station_id: str) -> Station:
        for station in self.stations:
            if station.id == station_id:
                return station
        raise KeyError(station_id)

    def reader(self, reader_id: str) -> RfidReader:
        for reader in self.rfid_readers:
            if reader.id == reader_id:
                return reader
        raise KeyError(reader_id)

    def sku_by_gtin(self) -> dict[str, Sku]:
        return {sku.gtin: sku for sku in self.skus}

    def bin_home(self) -> dict[str, str]:
        """Tote id -> its rack node."""
        return {b.tote_id: b.node for sku in self.skus for b in sku.bins}


def distance(a: Node, b: Node) -> float:
    return math.hypot(a.x - b.x, a.y - b.y)
