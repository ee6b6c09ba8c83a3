"""The demo site's AGVs as pure VDA 5050 models (simulators/agv/model.py) wired to a
`SiteController` without MQTT or a clock: what the controller publishes reaches the models,
their states reach the controller, and simulated time advances in fixed steps. The
controller's traffic decisions (controller/traffic) are exercised as on the edge."""

from __future__ import annotations

import random
import weakref
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from controller.domain.epc import encode_sgtin96
from controller.domain.layout import Site
from controller.domain.messages import (
    ReleasedOrder,
    Report,
    ReportType,
    StationCloseCarton,
    StationLabel,
    StationPick,
    TagRead,
)
from controller.domain.tasks import TaskKind, TaskStatus, TransportTask
from controller.service.site_controller import Output, SiteController
from controller.vda5050.events import Publish
from simulators.agv.model import AgvModel
from simulators.common.config import SiteMap, load_site
from simulators.common.world import World
from tests.conftest import DEMO_SITE
from tests.unit.site_testing import (
    PREFIX_LEN,
    T0,
    AgvOrder,
    agv_orders,
    next_header_id,
    of,
    reports,
)

STEP_S = 0.25  # simulated seconds per step: the edge's tick
STATE_EVERY_S = 1.0  # a state at least this often, as the simulator's shell sends one


class SimulatedFloor:
    def __init__(
        self,
        ctl: SiteController,
        *,
        seed: int = 7,
        start: datetime = T0,
        serials: Iterable[str] | None = None,
        speedup: float = 1.0,
    ) -> None:
        """`serials`: the AGVs switched on (all of the site's by default). `speedup`: the
        vehicles' seconds per second of the controller's clock (the demo runs at 10-30)."""
        config = load_site(DEMO_SITE)
        self.ctl = ctl
        self.world = World.from_site(config)
        site_map = SiteMap(config)
        self.agvs = {
            a.serial_number: AgvModel(
                manufacturer=a.manufacturer,
                serial_number=a.serial_number,
                start_node=a.start_node,
                speed_mps=a.speed_mps,
                site_map=site_map,
                world=self.world,
                rng=random.Random(f"{seed}-{a.serial_number}"),
            )
            for a in config.agvs
            if serials is None or a.serial_number in serials
        }
        self.start = start
        self.speedup = speedup
        self.t = 0.0
        self.outputs: list[Output] = []  # everything the controller answered, in order
        self.published: list[Publish] = []
        self._stated: dict[str, float] = {}
        # Faults the tests inject between the controller and the vehicles.
        self.lose_orders: dict[str, int] = {}  # serial → orders still to drop on the way
        self.tamper: Callable[[str, dict[str, Any]], dict[str, Any]] | None = None  # states

    @property
    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.t / self.speedup)

    def _stamp(self) -> tuple[int, str]:
        return next_header_id(), self.now.isoformat().replace("+00:00", "Z")

    def feed(self, outputs: Iterable[Output]) -> list[Output]:
        """Hand the controller's answers to the models (orders, instant actions)."""
        outputs = list(outputs)
        self.outputs += outputs
        for o in outputs:
            if not isinstance(o, Publish):
                continue
            self.published.append(o)
            agv = self.agvs[o.message["serialNumber"]]
            if o.topic.value == "order":
                serial = o.message["serialNumber"]
                if self.lose_orders.get(serial, 0) > 0:
                    self.lose_orders[serial] -= 1
                    continue
                agv.receive_order(o.message, self.t)
            elif o.topic.value == "instantActions":
                agv.receive_instant_actions(o.message, self.t)
        return outputs

    def bring_online(self) -> None:
        """Every AGV connects and sends its factsheet (honoured: minOrderInterval, ...)."""
        for serial, agv in self.agvs.items():
            header, stamp = self._stamp()
            self.feed(
                self.ctl.agv_connection(serial, agv.connection("ONLINE", header, stamp), self.now)
            )
            header, stamp = self._stamp()
            self.feed(self.ctl.agv_factsheet(serial, agv.factsheet(header, stamp), self.now))
        self.step(0.0)

    def step(self, seconds: float = STEP_S) -> list[Output]:
        """Advance time: every model moves, reports a state when it has news, and the
        controller ticks."""
        self.t += seconds
        out: list[Output] = []
        for serial, agv in self.agvs.items():
            agv.advance(self.t)
            due = self.t - self._stated.get(serial, -1e9) >= STATE_EVERY_S
            if agv.take_state_trigger() or due:
                self._stated[serial] = self.t
                out += self.report(serial)
        out += self.feed(self.ctl.tick(self.now))
        self.check_traffic()
        return out

    def check_traffic(self) -> None:
        """The safety layer's promise, checked against the vehicles themselves: every node
        a vehicle may still drive to under its released base is held for it by the
        reservation kernel, and no two vehicles stand on or head for one node."""
        kernel = self.ctl.fleet.control.kernel
        claimed: dict[str, str] = {}
        for serial, agv in self.agvs.items():
            ahead = [n.node_id for n in agv._nodes if n.released]
            if agv._drive is not None:
                ahead.append(agv._drive.node.node_id)
            mine = {agv.last_node_id, *ahead}
            if serial in kernel:
                held = {self.ctl.fleet.floor.node_id(i) for i in kernel.allocation(serial)}
                assert set(ahead) <= held, f"{serial} released {ahead}, holds only {held}"
            for node in mine:
                assert claimed.setdefault(node, serial) == serial, (
                    f"{serial} and {claimed[node]} both on or bound for {node} at t={self.t}"
                )

    def report(self, serial: str) -> list[Output]:
        """The vehicle's state now, to the controller (through `tamper`, if set)."""
        header, stamp = self._stamp()
        message = self.agvs[serial].state(self.t, header, stamp)
        if self.tamper is not None:
            message = self.tamper(serial, message)
        return self.feed(self.ctl.agv_state(serial, message, self.now))

    def release(self, order: ReleasedOrder) -> list[Output]:
        return self.feed(self.ctl.release_order(order, self.now))

    def until_out(
        self, kind: type, match: Callable[[Any], bool] = lambda _o: True, *, within_s: float = 600.0
    ) -> Any:
        """Step until the controller answers with an output of `kind` that `match`es; it."""
        start = len(self.outputs)
        found: list[Any] = []

        def seen() -> bool:
            found.extend(o for o in self.outputs[start:] if isinstance(o, kind) and match(o))
            return bool(found)

        self.run_until(seen, within_s=within_s, what=f"a {kind.__name__}")
        return found[0]

    def until_out_order_action(self, action_type: str, *, within_s: float = 600.0) -> list[str]:
        """Step until an order goes out with an action of that type; the ids of such."""
        start = len(self.published)
        found: list[str] = []

        def seen() -> bool:
            found.extend(
                a["actionId"]
                for o in agv_orders(list(self.published[start:]))
                for a in o.actions
                if a["actionType"] == action_type and a["actionId"] not in found
            )
            return bool(found)

        self.run_until(seen, within_s=within_s, what=f"an order with a {action_type}")
        return found

    def run_until(
        self, done: Callable[[], bool], *, within_s: float = 600.0, what: str = "the condition"
    ) -> list[Output]:
        """Step until `done()`; fails after `within_s` simulated seconds."""
        out: list[Output] = []
        deadline = self.t + within_s
        while not done():
            assert self.t < deadline, f"{what} not reached within {within_s} s simulated"
            out += self.step()
        return out

    def orders_sent(self) -> list[dict[str, Any]]:
        return [p.message for p in self.published if p.topic.value == "order"]

    def agv_orders(self) -> list[AgvOrder]:
        """Every order and update published so far, schema-checked."""
        return agv_orders(list(self.published))


_floors: weakref.WeakKeyDictionary[SiteController, SimulatedFloor] = weakref.WeakKeyDictionary()


def floor_of(ctl: SiteController, serials: Iterable[str] | None = None) -> SimulatedFloor:
    """The simulated floor of `ctl`'s test, made on first use (its AGVs where they start;
    `serials`: only those switched on)."""
    floor = _floors.get(ctl)
    if floor is None:
        floor = _floors[ctl] = SimulatedFloor(ctl, serials=serials)
    return floor


def deliver(ctl: SiteController, order: ReleasedOrder) -> StationPick:
    """Release a single-line order and let an AGV bring its tote to the station: the pick
    instruction."""
    floor = floor_of(ctl)
    floor.release(order)
    pick: StationPick = floor.until_out(StationPick, lambda p: p.order_id == order.order_id)
    return pick


def walk_to_packed(
    ctl: SiteController, site: Site, order: ReleasedOrder
) -> tuple[str, list[Output]]:
    """Drive one single-line order from release to a verified carton; return its SSCC."""
    floor = floor_of(ctl)
    floor.release(order)
    floor.until_out(Report, lambda r: r.type is ReportType.ORDER_PICKING)
    pick: StationPick = floor.until_out(StationPick, lambda p: p.order_id == order.order_id)
    out = ctl.station_picked(pick.station_id, pick.task_id, pick.qty, T0)
    assert reports(out) == [ReportType.LINE_PICKED, ReportType.ORDER_PICKED]
    assert of(out, StationCloseCarton) == [StationCloseCarton(pick.station_id, order.order_id)]
    assert ctl.station_carton_closed(pick.station_id, order.order_id, T0) == []
    reader = site.station(pick.station_id).rfid_reader
    epcs = [encode_sgtin96(pick.gtin, serial, PREFIX_LEN) for serial in range(1, pick.qty + 1)]
    out = ctl.tag_reads(reader, [TagRead(e, -45.0) for e in epcs + epcs], T0)
    [label] = of(out, StationLabel)
    assert reports(out) == [ReportType.ORDER_PACKED]
    return label.sscc, out


def fetch_task(ctl: SiteController, order_id: str, line_id: str = "10") -> TransportTask:
    """The newest fetch task of the order's line."""
    return [
        t
        for t in ctl.tasks.values()
        if t.kind is TaskKind.FETCH and t.order_id == order_id and t.line_id == line_id
    ][-1]


def run_until_status(
    floor: SimulatedFloor, task: TransportTask, *statuses: TaskStatus, within_s: float = 600.0
) -> list[Output]:
    """Step until the task reaches one of `statuses`; what the controller answered meanwhile."""
    return floor.run_until(
        lambda: task.status in statuses, within_s=within_s, what=f"{task.task_id} {statuses}"
    )
