"""The site's traffic on the edge: `FleetControl` (controller/traffic), the same decision code
the headless fleet simulation runs, fed with the AGVs' VDA 5050 states, and what its
reservation kernel grants turned into VDA 5050 orders.

What an AGV may drive is only ever what the kernel holds for it. The first order of a trip
releases the AGV's allocation (`released: true`) and forecasts the planner's path beyond it
(the horizon, `released: false`); as the kernel grants more, an order update releases it,
stitched at the last node released (CHECKLIST 32-37). A released node is never taken back:
VDA 5050 takes a base back only by cancelling the order, so the kernel breaks a deadlock
with an AGV whose nodes ahead were not sent yet (`can_take_back`).

An AGV that must move without a task (parking near demand, stepping out of a station's
pocket, giving way) gets a move order of its own. Charging is not dispatched here yet:
the edge sends no AGV to a charger (the dispatcher's policy has none).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from controller.dispatch import DispatchPolicy, MinCostDispatcher, PickTask
from controller.domain.layout import Site
from controller.domain.messages import AgvState
from controller.traffic.control import AgvOrder, FleetControl, TickResult
from controller.traffic.floor import CompiledFloor
from controller.traffic.planner import MotionPlanner
from controller.traffic.trips import Stop
from controller.traffic.violations import Violation
from controller.vda5050.actions import ActionSpec
from controller.vda5050.order_builder import NodeSpec

# Nodes granted ahead of an AGV. A state comes every half second or so and an AGV covers a
# few metres in that time: three nodes keep it driving between two grants.
EDGE_BASE_DEPTH = 1


@dataclass(slots=True)
class WireOrder:
    """The VDA 5050 order an AGV is running, as far as traffic is concerned."""

    order_id: str
    decision_point: NodeSpec  # the last node released, exactly as sent
    decision_index: int  # its floor index


class FleetLink:
    def __init__(self, site: Site, *, base_depth: int = EDGE_BASE_DEPTH) -> None:
        self.site = site
        self.floor = CompiledFloor.from_site(site)
        self._node_ids = frozenset(node.id for node in site.nodes)
        policy = DispatchPolicy(parking=self.floor.goals("parking"))
        self.control = FleetControl(
            self.floor,
            MotionPlanner(self.floor),
            MinCostDispatcher(self.floor, policy),
            base_depth=base_depth,
            can_take_back=self._can_take_back,
            plan_at_base_end=True,
        )
        self.wire: dict[str, WireOrder] = {}  # serial → the order its released base is in
        self._first_seen_s: dict[str, float] = {}  # task id → when it first waited
        self._move_seq = 0

    # --- nodes -----------------------------------------------------------------------------

    def has(self, node_id: str) -> bool:
        return node_id in self._node_ids

    def index(self, node_id: str) -> int:
        return self.floor.index(node_id)

    def spec(self, index: int, actions: Sequence[ActionSpec] = ()) -> NodeSpec:
        node = self.site.node(self.floor.node_id(index))
        return NodeSpec(node.id, node.x, node.y, self.site.map_id, actions=tuple(actions))

    def distance(self, source: str, target: str) -> float:
        """Metres of the shortest open path between two nodes (inf if there is none)."""
        return float(self.floor.distances_to(self.index(target)).item(self.index(source)))

    # --- AGVs --------------------------------------------------------------------------------

    def knows(self, serial: str) -> bool:
        return self.control.vehicle_node(serial) is not None

    def observe(
        self, serial: str, state: AgvState, *, now: datetime, online: bool, takes_work: bool
    ) -> Violation | None:
        """The AGV's state, as traffic needs it. Its first state on a node places it in the
        fleet; a node it was never granted moves it there (see FleetControl.relocate)."""
        if not self.has(state.last_node_id):
            # Between nodes, or off the map: nothing to confirm, and no order can start
            # from where it is (an order's first node is the AGV's last node).
            if self.knows(serial):
                self.control.set_takes_work(serial, False)
            return None
        node = self.index(state.last_node_id)
        control = self.control
        if not self.knows(serial):
            violation = control.add_agv(serial, node)
            if violation is not None:
                return violation
        held = control.kernel.allocation(serial)
        violation = None
        if node not in held:
            violation = control.relocate(serial, node)
            if violation is None:
                self.wire.pop(serial, None)  # what was released no longer describes it
        control.observe(
            serial,
            control.kernel.current_node(serial) if violation else node,
            now_s=now.timestamp(),
            battery_pct=state.battery_charge if state.battery_charge is not None else 100.0,
            online=online,
            failed=any(e.level == "FATAL" for e in state.errors),
            working=any(a.status.value in ("INITIALIZING", "RUNNING") for a in state.action_states),
            carrying=len(state.load_ids or ()),
        )
        control.set_takes_work(serial, takes_work)
        return violation

    def tick(self, now: datetime, waiting: Sequence[tuple[str, str, str, int]]) -> TickResult:
        """One FleetControl tick. `waiting`: (task id, pickup node, drop-off node, priority)
        of the tasks the dispatcher may give an AGV now."""
        now_s = now.timestamp()
        tasks = []
        for task_id, source, destination, priority in waiting:
            created = self._first_seen_s.setdefault(task_id, now_s)
            tasks.append(
                PickTask(
                    task_id, self.index(source), self.index(destination), created, None, priority
                )
            )
        waiting_ids = {t[0] for t in waiting} | self.control.tasks_on_trips()
        for task_id in [t for t in self._first_seen_s if t not in waiting_ids]:
            del self._first_seen_s[task_id]
        return self.control.tick(now_s, tasks)

    def order(self, serial: str) -> AgvOrder:
        return self.control.order(serial)

    def assign(self, serial: str, stops: Sequence[Stop]) -> None:
        self.control.assign(serial, stops)

    def abandon(self, serial: str) -> tuple[str, ...]:
        return self.control.abandon(serial) if self.knows(serial) else ()

    def stop_done(self, serial: str) -> None:
        self.control.stop_done(serial)

    def next_move_id(self, serial: str, prefix: str) -> str:
        self._move_seq += 1
        return f"{prefix}-{serial}-m{self._move_seq}"

    # --- what to release ---------------------------------------------------------------------

    def to_release(self, serial: str) -> tuple[int, ...]:
        """Nodes the kernel holds for the AGV beyond the last node released on the wire."""
        wire = self.wire.get(serial)
        base = self.control.kernel.allocation(serial)
        if wire is None:
            return base
        try:
            at = base.index(wire.decision_index)
        except ValueError:
            return ()  # it holds its decision point until it passes it: nothing to extend
        return base[at + 1 :]

    def route(
        self,
        serial: str,
        released: Sequence[int],
        action: ActionSpec | None,
        *,
        horizon: bool = True,
    ) -> list[NodeSpec]:
        """`released` as VDA 5050 nodes, then the horizon (unless `horizon` is False).
        `action` (the work at the AGV's current stop, unless sent already) goes on the
        stop's node if it is released now."""
        stop = self.control.order(serial).stop
        acts_at = stop.node if action is not None and stop is not None else None
        specs = []
        for node in released:
            if node == acts_at:
                specs.append(self.spec(node, (action,) if action else ()))
                acts_at = None
            else:
                specs.append(self.spec(node))
        if not horizon:
            return specs
        return specs + [self.spec(node) for node in self.horizon(serial)]

    def horizon(self, serial: str) -> tuple[int, ...]:
        """Beyond the base, not released: the planner's path to the current stop, then
        shortest paths through the trip's stops still ahead; nothing past the last stop. It
        keeps the order open (VDA 5050: an order with nodes left is not complete) until the
        base reaches the last stop, and lets it complete there."""
        order = self.control.order(serial)
        trip = self.control.trip(serial)
        if trip is None or not trip.stops:
            return ()
        base = order.base
        stops = list(trip.stops)
        ahead: list[int] = []
        if stops[0].node not in base:
            planned = list(_continuation(base, order.horizon, self.floor.adjacency))
            if stops[0].node in planned:
                ahead = planned[: planned.index(stops[0].node) + 1]
            else:
                ahead = [
                    *planned,
                    *self.floor.shortest_path(planned[-1] if planned else base[-1], stops[0].node),
                ]
        at = stops[0].node
        for stop in stops[1:]:
            ahead += self.floor.shortest_path(at, stop.node)
            at = stop.node
        return tuple(ahead)

    def _can_take_back(self, serial: str) -> bool:
        """Only what was never sent: the AGV drives its released base regardless."""
        wire = self.wire.get(serial)
        if wire is None:
            return True
        base = self.control.kernel.allocation(serial)
        return wire.decision_index in base[:1]


def _continuation(
    base: Sequence[int], horizon: Sequence[int], adjacency: Sequence[Sequence[int]]
) -> tuple[int, ...]:
    """The part of a tick's horizon that still continues the base (which may have grown
    since): after the base's last node, or nothing if it no longer joins on."""
    end = base[-1]
    if end in horizon:
        return tuple(horizon[horizon.index(end) + 1 :])
    if horizon and horizon[0] in adjacency[end]:
        return tuple(horizon)
    return ()
