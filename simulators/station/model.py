"""A pick/pack station as a pure model: one operator, a labeller, an RFID gate at the exit.

Commands come in as decoded JSON (docs/protocols.md, "Station terminal"); the model says
what happens when (sim seconds): station events to publish, tag reads for the gate's
reader, parcels put on the conveyor to the sorter. The operator does one thing at a time
(picks and carton closing queue up); labelling and rejecting are machines.

Choices where the protocol leaves room:
- The operator checks the tote when the pick is done: items move only from a tote of the
  instructed SKU standing at the station node; fewer than instructed is a short pick
  (`picked` with the smaller `qty`, possibly 0).
- `label` for an order without a closed carton is ignored (logged by the shell).
- `reject` sends the carton to the exception lane; the protocol has no event for that.
- `cancel`: the operator drops what is still to do for the order (picks, closing the
  carton, labelling it) and sets its carton aside with what is in it; no event.
- `putBack`: the operator takes the items of the cancelled order (from its set-aside
  carton, or its parcel wherever it ended up) and puts them into the tote standing at the
  station, checked like a pick: `putBack` reports how many went in (fewer if the tote is
  not there or is of another SKU, or the items cannot be found).
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass
from typing import Any

from simulators.common.epc import EpcEncodingError, sscc96
from simulators.common.world import Parcel, World
from simulators.rfid_gate.model import TagRead, pass_reads, stray_reads


@dataclass(frozen=True)
class StationDurations:
    """Sim seconds."""

    pick_s: float = 6.0
    close_s: float = 4.0
    to_gate_s: float = 1.0  # closed carton rolls from the operator into the gate
    gate_pass_s: float = 1.0
    label_s: float = 1.0
    to_sorter_s: float = 15.0
    put_back_s: float = 6.0


@dataclass(frozen=True)
class StationEvent:
    payload: dict[str, Any]  # without "ts"; the shell stamps it with `at`
    at: float


@dataclass(frozen=True)
class GateReads:
    reads: tuple[TagRead, ...]


@dataclass(frozen=True)
class ParcelToSorter:
    parcel_id: str
    arrive_at: float


@dataclass(frozen=True)
class Ignored:
    reason: str


Output = StationEvent | GateReads | ParcelToSorter | Ignored


class StationModel:
    def __init__(
        self,
        *,
        station_id: str,
        node: str,
        world: World,
        rng: random.Random,
        company_prefix_len: int,
        sscc_filter: int = 2,
        short_pick_probability: float = 0.0,
        durations: StationDurations | None = None,
    ) -> None:
        self.station_id = station_id
        self.node = node
        self.world = world
        self.rng = rng
        self.company_prefix_len = company_prefix_len
        self.sscc_filter = sscc_filter
        self.short_pick_probability = short_pick_probability
        self.durations = durations or StationDurations()
        self._operator_free_at = 0.0
        self._timeline: list[tuple[float, int, str, dict[str, Any]]] = []
        self._seq = 0

    def next_due(self) -> float | None:
        return self._timeline[0][0] if self._timeline else None

    def handle_command(self, command: Any, now: float) -> list[Output]:
        if not isinstance(command, dict) or not isinstance(command.get("orderId"), str):
            return [Ignored("command without orderId")]
        kind = command.get("command")
        if kind == "pick":
            if not all(isinstance(command.get(k), str) for k in ("taskId", "toteId", "sku")):
                return [Ignored("pick without taskId/toteId/sku")]
            qty = command.get("qty")
            if not isinstance(qty, int) or isinstance(qty, bool) or qty < 0:
                return [Ignored("pick without a whole qty")]
            self._operator(now, self.durations.pick_s, "pick", command)
        elif kind == "closeCarton":
            self._operator(now, self.durations.close_s, "close", command)
        elif kind == "label":
            if not isinstance(command.get("sscc"), str):
                return [Ignored("label without sscc")]
            self._schedule(now + self.durations.label_s, "label", command)
        elif kind == "reject":
            self._schedule(now, "reject", command)
        elif kind == "cancel":
            self._cancel(command["orderId"])
        elif kind == "putBack":
            fields = ("taskId", "putbackId", "toteId", "sku")
            if not all(isinstance(command.get(k), str) for k in fields):
                return [Ignored("putBack without taskId/putbackId/toteId/sku")]
            qty = command.get("qty")
            if not isinstance(qty, int) or isinstance(qty, bool) or qty < 0:
                return [Ignored("putBack without a whole qty")]
            self._operator(now, self.durations.put_back_s, "put_back", command)
        else:
            return [Ignored(f"unknown command {kind!r}")]
        return []

    def advance(self, now: float) -> list[Output]:
        outputs: list[Output] = []
        while self._timeline and self._timeline[0][0] <= now:
            at, _, kind, command = heapq.heappop(self._timeline)
            outputs.extend(getattr(self, f"_do_{kind}")(at, command))
        return outputs

    # ---- scheduling -------------------------------------------------------------------

    def _operator(self, now: float, duration: float, kind: str, command: dict[str, Any]) -> None:
        start = max(now, self._operator_free_at)
        self._operator_free_at = start + duration
        self._schedule(self._operator_free_at, kind, command)

    def _schedule(self, at: float, kind: str, command: dict[str, Any]) -> None:
        self._seq += 1
        heapq.heappush(self._timeline, (at, self._seq, kind, command))

    def _cancel(self, order_id: str) -> None:
        """Drop the order's work still to do; its carton (not yet labelled) is set aside."""
        self._timeline = [
            entry
            for entry in self._timeline
            if not (entry[2] in ("pick", "close", "label") and entry[3]["orderId"] == order_id)
        ]
        heapq.heapify(self._timeline)
        carton = self.world.cartons.get(order_id)
        if carton is not None and carton.state in ("open", "closed"):
            carton.state = "cancelled"

    # ---- work done --------------------------------------------------------------------

    def _do_pick(self, at: float, command: dict[str, Any]) -> list[Output]:
        order_id, qty = command["orderId"], command["qty"]
        tote = self.world.totes.get(command["toteId"])
        available = 0
        if tote is not None and tote.node == self.node and tote.sku == command["sku"]:
            available = len(tote.items)
        take = min(qty, available)
        if take > 0 and self.rng.random() < self.short_pick_probability:
            take = self.rng.randrange(0, take)
        if take > 0 and tote is not None:
            carton = self.world.carton(order_id, self.station_id)
            self.world.move_items(tote, carton, take)
        return [
            StationEvent(
                {
                    "event": "picked",
                    "taskId": command["taskId"],
                    "orderId": order_id,
                    "lineId": command.get("lineId"),
                    "toteId": command["toteId"],
                    "sku": command["sku"],
                    "qty": take,
                },
                at,
            )
        ]

    def _do_close(self, at: float, command: dict[str, Any]) -> list[Output]:
        order_id = command["orderId"]
        carton = self.world.carton(order_id, self.station_id)
        carton.state = "closed"
        gate_at = at + self.durations.to_gate_s
        reads = pass_reads(
            self.rng,
            [item.epc for item in carton.items],
            start=gate_at,
            span_s=self.durations.gate_pass_s,
        )
        nearby = [item.epc for tote in self.world.totes_at(self.node) for item in tote.items]
        reads += stray_reads(self.rng, nearby, start=gate_at, span_s=self.durations.gate_pass_s)
        reads.sort(key=lambda r: r.at)
        return [
            StationEvent({"event": "cartonClosed", "orderId": order_id}, at),
            GateReads(tuple(reads)),
        ]

    def _do_label(self, at: float, command: dict[str, Any]) -> list[Output]:
        order_id, sscc = command["orderId"], command["sscc"]
        carton = self.world.cartons.get(order_id)
        if carton is None or carton.state != "closed":
            return [Ignored(f"label for order {order_id} without a closed carton")]
        outputs: list[Output] = []
        try:
            epc: str | None = sscc96(sscc, self.company_prefix_len, self.sscc_filter)
        except EpcEncodingError as exc:
            epc = None  # the barcode is printed; the tag cannot be encoded
            outputs.append(Ignored(f"SSCC {sscc} not encodable as SSCC-96: {exc}"))
        carton.state = "labelled"
        self.world.parcels[sscc] = Parcel(
            parcel_id=sscc,
            order_id=order_id,
            items=list(carton.items),
            sscc=sscc,
            epc=epc,
            carrier=command.get("carrier"),
            location=f"conveyor:{self.station_id}->sorter",
        )
        outputs.append(StationEvent({"event": "labelled", "orderId": order_id, "sscc": sscc}, at))
        outputs.append(ParcelToSorter(sscc, at + self.durations.to_sorter_s))
        return outputs

    def _do_put_back(self, at: float, command: dict[str, Any]) -> list[Output]:
        order_id, sku = command["orderId"], command["sku"]
        tote = self.world.totes.get(command["toteId"])
        put = 0
        if tote is not None and tote.node == self.node and tote.sku == sku:
            items = self.world.take_order_items(order_id, sku, command["qty"])
            tote.items.extend(items)
            put = len(items)
        return [
            StationEvent(
                {
                    "event": "putBack",
                    "taskId": command["taskId"],
                    "putbackId": command["putbackId"],
                    "orderId": order_id,
                    "lineId": command.get("lineId"),
                    "toteId": command["toteId"],
                    "sku": sku,
                    "qty": put,
                },
                at,
            )
        ]

    def _do_reject(self, at: float, command: dict[str, Any]) -> list[Output]:
        carton = self.world.cartons.get(command["orderId"])
        if carton is None:
            return [Ignored(f"reject for unknown carton {command['orderId']}")]
        carton.state = "exception"
        self.world.exception_lane.append(carton)
        return []
