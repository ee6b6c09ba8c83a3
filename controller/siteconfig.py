"""Load and validate `config/sites/<site>.yaml` into a frozen `Site`.

Validation happens once, here; every error names the offending field as a dotted path
(`agvs[2].start_node`) so that a site engineer can find it in the file.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import networkx as nx
import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from controller.domain import layout as L
from controller.domain.errors import SiteConfigError
from controller.domain.gs1 import gtin_is_valid
from controller.domain.stock import RemovalStrategy

Ident = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]+$", min_length=1)]
CONFIG_DIR = Path(__file__).resolve().parent.parent / "config" / "sites"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Node(_Model):
    id: Ident
    x: float
    y: float
    kind: L.NodeKind


class _Agv(_Model):
    serial_number: Ident
    manufacturer: Ident
    start_node: str
    speed_mps: float = Field(default=1.5, gt=0)
    # The VDA 5050 version the vehicle speaks: 2.0 vehicles keep working beside 2.1 ones.
    protocol: Literal["2.1.0", "2.0.0"] = "2.1.0"


class _Station(_Model):
    id: Ident
    node: str
    rfid_reader: str


class _Carrier(_Model):
    code: Ident
    name: str


class _Chute(_Model):
    id: Ident
    carrier: str | None


class _Sorter(_Model):
    id: Ident
    induct_node: str
    decision_window_ms: int = Field(gt=0)
    reject_chute: str
    chutes: list[_Chute] = Field(min_length=1)


class _DockDoor(_Model):
    id: Ident
    carriers: list[str] = Field(min_length=1)
    rfid_reader: str


class _Reader(_Model):
    id: Ident
    format: L.ReaderFormat
    min_rssi_dbm: float = -70.0
    topic: str | None = None


class _Bin(_Model):
    node: str
    tote_id: Ident
    qty: int = Field(ge=0)
    lot: Ident | None = None
    expires_on: date | None = None


class _Sku(_Model):
    sku: Ident
    gtin: Annotated[str, StringConstraints(pattern=r"^\d{14}$")]
    name: str
    bins: list[_Bin] = Field(min_length=1)
    lot_tracked: bool = False
    safety_stock: int = Field(default=0, ge=0)
    removal: RemovalStrategy | None = None


class _Gs1(_Model):
    company_prefix: Annotated[str, StringConstraints(pattern=r"^\d{6,12}$")]
    sscc_extension_digit: int = Field(default=0, ge=0, le=9)


class _Site(_Model):
    site: Ident
    name: str
    map_id: Ident
    gs1: _Gs1
    nodes: list[_Node] = Field(min_length=2)
    edges: list[tuple[str, str]] = Field(min_length=1)
    agvs: list[_Agv] = Field(min_length=1)
    stations: list[_Station] = Field(min_length=1)
    carriers: list[_Carrier] = Field(min_length=1)
    sorter: _Sorter
    dock_doors: list[_DockDoor] = Field(min_length=1)
    rfid_readers: list[_Reader] = Field(min_length=1)
    skus: list[_Sku] = Field(min_length=1)
    removal: RemovalStrategy = RemovalStrategy.FIFO


def _path(loc: Iterable[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(root)"


def load_site(path: str | Path) -> L.Site:
    """Read, validate and freeze a site config file."""
    source = str(path)
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SiteConfigError(source, "(file)", "not found") from exc
    except yaml.YAMLError as exc:
        raise SiteConfigError(source, "(file)", f"not valid YAML: {exc}") from exc
    return parse_site(raw, source)


def site_config_path(site: str) -> Path:
    """The bundled config of a site id (`demo` → `config/sites/demo.yaml`)."""
    return CONFIG_DIR / f"{site}.yaml"


def parse_site(raw: Any, source: str = "<site>") -> L.Site:
    try:
        model = _Site.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise SiteConfigError(source, _path(first["loc"]), first["msg"]) from exc
    _check_references(model, source)
    return _freeze(model)


def _fail(source: str, field: str, problem: str) -> SiteConfigError:
    return SiteConfigError(source, field, problem)


def _check_unique(source: str, field: str, ids: list[str]) -> None:
    for value, count in Counter(ids).items():
        if count > 1:
            index = ids.index(value, ids.index(value) + 1)
            raise _fail(source, f"{field}[{index}].id", f"duplicate id {value!r}")


def _check_references(m: _Site, source: str) -> None:
    node_ids = {n.id for n in m.nodes}
    kinds = {n.id: n.kind for n in m.nodes}
    readers = {r.id for r in m.rfid_readers}
    carriers = {c.code for c in m.carriers}
    _check_unique(source, "nodes", [n.id for n in m.nodes])
    _check_unique(source, "agvs", [a.serial_number for a in m.agvs])
    _check_unique(source, "stations", [s.id for s in m.stations])
    _check_unique(source, "rfid_readers", [r.id for r in m.rfid_readers])
    _check_unique(source, "sorter.chutes", [c.id for c in m.sorter.chutes])

    def need_node(field: str, node: str, kind: L.NodeKind | None = None) -> None:
        if node not in node_ids:
            raise _fail(source, field, f"unknown node {node!r}")
        if kind is not None and kinds[node] is not kind:
            raise _fail(source, field, f"node {node!r} is a {kinds[node]}, not a {kind}")

    for i, (a, b) in enumerate(m.edges):
        need_node(f"edges[{i}][0]", a)
        need_node(f"edges[{i}][1]", b)
        if a == b:
            raise _fail(source, f"edges[{i}]", f"edge from {a!r} to itself")
    graph = nx.Graph()
    graph.add_nodes_from(node_ids)
    graph.add_edges_from(m.edges)
    if not nx.is_connected(graph):
        parts = sorted(nx.connected_components(graph), key=len)
        raise _fail(source, "edges", f"the floor is not connected: {sorted(parts[0])} are cut off")
    for i, agv in enumerate(m.agvs):
        need_node(f"agvs[{i}].start_node", agv.start_node)
    for i, st in enumerate(m.stations):
        need_node(f"stations[{i}].node", st.node, L.NodeKind.STATION)
        if st.rfid_reader not in readers:
            raise _fail(source, f"stations[{i}].rfid_reader", f"unknown reader {st.rfid_reader!r}")
    need_node("sorter.induct_node", m.sorter.induct_node, L.NodeKind.SORTER_INDUCT)
    chute_ids = [c.id for c in m.sorter.chutes]
    if m.sorter.reject_chute not in chute_ids:
        raise _fail(source, "sorter.reject_chute", f"unknown chute {m.sorter.reject_chute!r}")
    for i, chute in enumerate(m.sorter.chutes):
        if chute.carrier is not None and chute.carrier not in carriers:
            raise _fail(source, f"sorter.chutes[{i}].carrier", f"unknown carrier {chute.carrier!r}")
    for i, door in enumerate(m.dock_doors):
        if door.rfid_reader not in readers:
            raise _fail(
                source, f"dock_doors[{i}].rfid_reader", f"unknown reader {door.rfid_reader!r}"
            )
        for j, code in enumerate(door.carriers):
            if code not in carriers:
                raise _fail(source, f"dock_doors[{i}].carriers[{j}]", f"unknown carrier {code!r}")
    chuted = {c.carrier for c in m.sorter.chutes}
    docked = {code for door in m.dock_doors for code in door.carriers}
    for i, carrier in enumerate(m.carriers):
        if carrier.code not in chuted:
            raise _fail(source, f"carriers[{i}].code", f"carrier {carrier.code!r} has no chute")
        if carrier.code not in docked:
            raise _fail(source, f"carriers[{i}].code", f"carrier {carrier.code!r} has no dock door")
    seen_bins: dict[str, str] = {}
    seen_totes: set[str] = set()
    _check_unique(source, "skus", [s.sku for s in m.skus])
    for i, sku in enumerate(m.skus):
        if not gtin_is_valid(sku.gtin):
            raise _fail(source, f"skus[{i}].gtin", f"check digit of {sku.gtin!r} is wrong")
        for j, location in enumerate(sku.bins):
            field = f"skus[{i}].bins[{j}]"
            need_node(f"{field}.node", location.node, L.NodeKind.RACK)
            if location.node in seen_bins:
                raise _fail(
                    source,
                    f"{field}.node",
                    f"bin {location.node!r} already holds {seen_bins[location.node]}",
                )
            if location.tote_id in seen_totes:
                raise _fail(source, f"{field}.tote_id", f"duplicate tote {location.tote_id!r}")
            seen_bins[location.node] = sku.sku
            seen_totes.add(location.tote_id)
            if sku.lot_tracked and (location.lot is None or location.expires_on is None):
                raise _fail(source, field, f"{sku.sku} is lot-tracked: lot and expires_on needed")
            if not sku.lot_tracked and (location.lot or location.expires_on):
                raise _fail(source, field, f"{sku.sku} is not lot-tracked: no lot or expiry")


def _freeze(m: _Site) -> L.Site:
    nodes = tuple(L.Node(n.id, n.x, n.y, n.kind) for n in m.nodes)
    frozen_nodes = {n.id: n for n in nodes}
    edges = tuple(L.Edge(a, b, L.distance(frozen_nodes[a], frozen_nodes[b])) for a, b in m.edges)
    return L.Site(
        site=m.site,
        name=m.name,
        map_id=m.map_id,
        gs1=L.Gs1(m.gs1.company_prefix, m.gs1.sscc_extension_digit),
        nodes=nodes,
        edges=edges,
        agvs=tuple(
            L.AgvSpec(a.serial_number, a.manufacturer, a.start_node, a.speed_mps, a.protocol)
            for a in m.agvs
        ),
        stations=tuple(L.Station(s.id, s.node, s.rfid_reader) for s in m.stations),
        carriers=tuple(L.Carrier(c.code, c.name) for c in m.carriers),
        sorter=L.Sorter(
            m.sorter.id,
            m.sorter.induct_node,
            m.sorter.decision_window_ms,
            m.sorter.reject_chute,
            tuple(L.Chute(c.id, c.carrier) for c in m.sorter.chutes),
        ),
        dock_doors=tuple(L.DockDoor(d.id, tuple(d.carriers), d.rfid_reader) for d in m.dock_doors),
        rfid_readers=tuple(
            L.RfidReader(r.id, r.format, r.min_rssi_dbm, r.topic) for r in m.rfid_readers
        ),
        skus=tuple(
            L.Sku(
                s.sku,
                s.gtin,
                s.name,
                tuple(L.Bin(b.node, b.tote_id, b.qty, b.lot, b.expires_on) for b in s.bins),
                lot_tracked=s.lot_tracked,
                safety_stock=s.safety_stock,
                removal=s.removal,
            )
            for s in m.skus
        ),
        removal=m.removal,
    )
