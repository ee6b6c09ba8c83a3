"""The site file as the devices see it.

Parsed here, from the YAML itself, and not shared with the controller: the simulators are
the devices and must not inherit the controller's reading of the site. Fields the devices
do not need are ignored.
"""

from __future__ import annotations

import math
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Gs1Config(_Model):
    company_prefix: str
    sscc_extension_digit: int = 0


class NodeConfig(_Model):
    id: str
    x: float
    y: float
    kind: str = "aisle"


class AgvConfig(_Model):
    serial_number: str
    manufacturer: str
    start_node: str
    speed_mps: float = 1.5


class StationConfig(_Model):
    id: str
    node: str
    rfid_reader: str


class CarrierConfig(_Model):
    code: str
    name: str = ""


class ChuteConfig(_Model):
    id: str
    carrier: str | None = None


class SorterConfig(_Model):
    id: str
    induct_node: str | None = None
    decision_window_ms: int = 1500
    reject_chute: str
    chutes: tuple[ChuteConfig, ...]


class DockDoorConfig(_Model):
    id: str
    carriers: tuple[str, ...]
    rfid_reader: str


class RfidReaderConfig(_Model):
    id: str
    format: str
    min_rssi_dbm: float = -70.0
    topic: str | None = None


class BinConfig(_Model):
    node: str
    tote_id: str
    qty: int


class SkuConfig(_Model):
    sku: str
    gtin: str
    name: str = ""
    bins: tuple[BinConfig, ...] = ()


class SiteConfig(_Model):
    site: str
    name: str = ""
    map_id: str
    gs1: Gs1Config
    nodes: tuple[NodeConfig, ...]
    edges: tuple[tuple[str, str], ...]
    agvs: tuple[AgvConfig, ...] = ()
    stations: tuple[StationConfig, ...] = ()
    carriers: tuple[CarrierConfig, ...] = ()
    sorter: SorterConfig | None = None
    dock_doors: tuple[DockDoorConfig, ...] = ()
    rfid_readers: tuple[RfidReaderConfig, ...] = ()
    skus: tuple[SkuConfig, ...] = Field(default=())

    def node(self, node_id: str) -> NodeConfig:
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)

    def reader(self, reader_id: str) -> RfidReaderConfig:
        for reader in self.rfid_readers:
            if reader.id == reader_id:
                return reader
        raise KeyError(reader_id)

    def reader_topic(self, reader_id: str) -> str:
        reader = self.reader(reader_id)
        return reader.topic or f"warehouse/{self.site}/rfid/{reader_id}/events"


class SiteMap:
    """Node positions and kinds and the two-way edges between them, for navigation."""

    def __init__(self, site: SiteConfig) -> None:
        self.map_id = site.map_id
        self.positions: dict[str, tuple[float, float]] = {n.id: (n.x, n.y) for n in site.nodes}
        self.kinds: dict[str, str] = {n.id: n.kind for n in site.nodes}
        self._edges: set[frozenset[str]] = {frozenset(e) for e in site.edges}

    def has_edge(self, a: str, b: str) -> bool:
        return frozenset((a, b)) in self._edges

    def distance(self, a: str, b: str) -> float:
        (xa, ya), (xb, yb) = self.positions[a], self.positions[b]
        return math.hypot(xb - xa, yb - ya)


def load_site(path: Path | str) -> SiteConfig:
    with Path(path).open(encoding="utf-8") as handle:
        raw = yaml.safe_load(handle)
    return SiteConfig.model_validate(raw)
