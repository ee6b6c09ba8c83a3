"""The physical site shared by the device simulators of one site: physics, not protocol.

Where each tote is and which tagged items it holds, the order cartons at the stations, the
parcels on conveyors, in chutes and in trucks. Devices move things here; nothing here does
I/O or knows about time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simulators.common.config import SiteConfig
from simulators.common.epc import sgtin96


@dataclass
class Item:
    epc: str  # SGTIN-96, upper-case hex
    sku: str
    gtin: str


@dataclass
class Tote:
    tote_id: str
    sku: str
    gtin: str
    home_node: str
    node: str | None  # where it stands, None while carried
    carried_by: str | None = None
    items: list[Item] = field(default_factory=list)


@dataclass
class Carton:
    order_id: str
    station_id: str
    items: list[Item] = field(default_factory=list)
    state: str = "open"  # open | closed | labelled | exception | cancelled


@dataclass
class Parcel:
    parcel_id: str
    order_id: str | None
    items: list[Item]
    sscc: str | None = None
    epc: str | None = None  # SSCC-96, upper-case hex
    carrier: str | None = None
    location: str = "induct"  # free text: conveyor, sorter, chute:C01, door:D1, truck:D1#3, ...


class WorldError(Exception):
    pass


class World:
    def __init__(self) -> None:
        self.totes: dict[str, Tote] = {}
        self.cartons: dict[str, Carton] = {}  # by order id
        self.parcels: dict[str, Parcel] = {}
        self.exception_lane: list[Carton] = []

    @classmethod
    def from_site(cls, site: SiteConfig) -> World:
        """Every configured bin holds its tote with `qty` items, each with a unique SGTIN-96."""
        world = cls()
        prefix_len = len(site.gs1.company_prefix)
        next_serial: dict[str, int] = {}
        for sku in site.skus:
            for bin_ in sku.bins:
                items = []
                for _ in range(bin_.qty):
                    serial = next_serial.get(sku.gtin, 1)
                    next_serial[sku.gtin] = serial + 1
                    epc = sgtin96(sku.gtin, prefix_len, serial, filter_value=1)
                    items.append(Item(epc=epc, sku=sku.sku, gtin=sku.gtin))
                world.totes[bin_.tote_id] = Tote(
                    tote_id=bin_.tote_id,
                    sku=sku.sku,
                    gtin=sku.gtin,
                    home_node=bin_.node,
                    node=bin_.node,
                    items=items,
                )
        return world

    # totes ---------------------------------------------------------------------------

    def totes_at(self, node: str) -> list[Tote]:
        return [t for t in self.totes.values() if t.node == node]

    def tote_at(self, tote_id: str, node: str) -> bool:
        tote = self.totes.get(tote_id)
        return tote is not None and tote.node == node

    def lift_tote(self, tote_id: str, node: str, carrier: str) -> Tote:
        tote = self.totes.get(tote_id)
        if tote is None or tote.node != node:
            raise WorldError(f"tote {tote_id} is not at {node}")
        tote.node, tote.carried_by = None, carrier
        return tote

    def set_down_tote(self, tote_id: str, node: str, carrier: str) -> Tote:
        tote = self.totes.get(tote_id)
        if tote is None or tote.carried_by != carrier:
            raise WorldError(f"tote {tote_id} is not carried by {carrier}")
        tote.node, tote.carried_by = node, None
        return tote

    # cartons and parcels ---------------------------------------------------------------

    def carton(self, order_id: str, station_id: str) -> Carton:
        carton = self.cartons.get(order_id)
        if carton is None or carton.state in ("labelled", "exception", "cancelled"):
            carton = Carton(order_id=order_id, station_id=station_id)
            self.cartons[order_id] = carton
        return carton

    def move_items(self, tote: Tote, carton: Carton, qty: int) -> list[Item]:
        moved = tote.items[:qty]
        del tote.items[: len(moved)]
        carton.items.extend(moved)
        return moved

    def take_order_items(self, order_id: str, sku: str, qty: int) -> list[Item]:
        """Up to `qty` items of `sku` out of the order's carton, or out of its parcel once
        it was labelled (wherever that went: a chute, the reject chute, back to a station)."""
        holders = [carton.items for carton in self.cartons.values() if carton.order_id == order_id]
        holders += [parcel.items for parcel in self.parcels.values() if parcel.order_id == order_id]
        taken: list[Item] = []
        for items in holders:
            for item in [i for i in items if i.sku == sku][: qty - len(taken)]:
                items.remove(item)
                taken.append(item)
        return taken
