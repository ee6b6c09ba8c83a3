"""A site as frozen data: the floor graph, devices and stock locations from `config/sites/`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import cached_property

from controller.domain.stock import RemovalStrategy


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
    protocol: str = "2.1.0"  # VDA 5050 version: "2.1.0" or "2.0.0"


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
    lot: str | None = None
    expires_on: date | None = None


@dataclass(frozen=True, slots=True)
class Sku:
    sku: str
    gtin: str
    name: str
    bins: tuple[Bin, ...]
    lot_tracked: bool = False
    # Below this many available units at a site, `stock.low` is raised.
    safety_stock: int = 0
    # None: the site's strategy.
    removal: RemovalStrategy | None = None


@dataclass(frozen=True, slots=True)
class Gs1:
    company_prefix: str
    sscc_extension_digit: int


@dataclass(frozen=True)
class Site:
    """A site as loaded. Not slotted, so that its lookups are indexed once, on first use."""

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
    removal: RemovalStrategy = RemovalStrategy.FIFO

    @cached_property
    def _nodes(self) -> dict[str, Node]:
        return {node.id: node for node in self.nodes}

    @cached_property
    def _stations(self) -> dict[str, Station]:
        return {station.id: station for station in self.stations}

    @cached_property
    def _readers(self) -> dict[str, RfidReader]:
        return {reader.id: reader for reader in self.rfid_readers}

    @cached_property
    def _skus(self) -> dict[str, Sku]:
        return {sku.sku: sku for sku in self.skus}

    @cached_property
    def carrier_codes(self) -> frozenset[str]:
        return frozenset(c.code for c in self.carriers)

    def has_sku(self, sku: str) -> bool:
        return sku in self._skus

    def sku(self, sku: str) -> Sku:
        return self._skus[sku]

    def removal_for(self, sku: str) -> RemovalStrategy:
        """The SKU's own removal strategy, else the site's."""
        own = self._skus[sku].removal if sku in self._skus else None
        return own or self.removal

    def node(self, node_id: str) -> Node:
        return self._nodes[node_id]

    def station(self, station_id: str) -> Station:
        return self._stations[station_id]

    def reader(self, reader_id: str) -> RfidReader:
        return self._readers[reader_id]

    def bin_home(self) -> dict[str, str]:
        """Tote id -> its rack node."""
        return {b.tote_id: b.node for sku in self.skus for b in sku.bins}


def distance(a: Node, b: Node) -> float:
    return math.hypot(a.x - b.x, a.y - b.y)
