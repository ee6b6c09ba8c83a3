"""FleetControl: the one decision loop for a fleet, used alike by the headless simulation
and by the edge. Dispatch gives AGVs trips, the motion planner proposes each AGV's next
steps, and the reservation kernel grants them: what an AGV may drive is only ever what the
kernel holds for it.

The loop is pure. It is told what the AGVs report (`observe`, per state message, cheap)
and what they finished (`stop_done`), and each `tick` it answers with every AGV's order:

- `base`: the kernel's allocation, current node first. In VDA 5050 these are the released
  nodes and edges of the order (`released: true`); the edge sends an order update when
  the base grows.
- `horizon`: the rest of the planner's path, not released (`released: false`): a forecast
  the AGV may use to plan its speed, never to drive.
- `stop`: the node where it works next and the action there (pick, drop, startCharging).

Nodes are freed only when an AGV's state shows it has left them (the kernel's rule), so
the base never shrinks under a moving AGV. Time comes in as `now_s`; the clock it is
given is only for measuring how long each phase took.

The tick in three (controller/traffic/plan_worker.py), so that the planner, its heavy
part, can run in a worker process on a snapshot while states keep arriving:
`plan_request` (dispatch, and the planner's snapshot), the planner (`plan_paths` in the
worker), `install` (the kernel's requests and check, the orders). `tick` is the three in
one call. A plan installed late may be stale: the AGVs moved meanwhile. `install` asks
the kernel only from where each base ends now, along the new plan; an AGV whose new plan
does not pass there gets nothing new until the next tick.

With a `lookahead`, each state (`observe`) also extends its AGV's base along the latest
installed plan until it reaches `lookahead` steps ahead of the AGV, so that an AGV never
waits for a tick to be released its next nodes; the edge sends what `observe` returns as
an order update (`order`). Without one (the simulation, which ticks once per edge driven)
only the tick grants.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from controller.dispatch import Decisions, Dispatcher, PickTask, TripAssignment
from controller.traffic.approach import Bound, planner_goals
from controller.traffic.floor import CompiledFloor, Table
from controller.traffic.ids import AgvId
from controller.traffic.kernel import ReservationKernel
from controller.traffic.plan_worker import (
    ClosedEdges,
    FloorData,
    PlannedPaths,
    PlannerSettings,
    PlannerSetup,
    PlanRequest,
    plan_with,
)
from controller.traffic.planner import AgentState, MotionPlanner
from controller.traffic.trips import Stop, StopKind, Trip, trip_of
from controller.traffic.vehicles import Vehicle
from controller.traffic.violations import Violation, ViolationKind

# Plan steps an AGV's base is kept ahead of it by its states, on the edge (`lookahead`):
# two states at 2 Hz and 1 node/s, plus one.
LOOKAHEAD_NODES = 3
# Nodes released ahead of an AGV. One is enough when a tick comes every edge's driving time
# (the simulation); an edge ticking slower than its AGVs drive releases more, so they do
# not stop at every node waiting for the next tick.
BASE_DEPTH = 1
# Rack tables the floor keeps per AGV: its goal and the pickups of the open tasks the
# dispatcher weighs (a saturated floor keeps two per AGV open), with room to spare. Below
# it, tables still in use in a tick were evicted and computed again.
RACK_TABLES_PER_AGV = 4


@dataclass(frozen=True, slots=True)
class AgvOrder:
    base: tuple[int, ...]  # released: current node first, then the granted nodes ahead
    horizon: tuple[int, ...]  # planned beyond the base, not released
    stop: Stop | None  # where it works next
    stop_key: int  # changes whenever the stop does: new work, even at the same node


@dataclass(frozen=True, slots=True)
class TickTimings:
    dispatch_ms: float
    plan_ms: float
    kernel_ms: float  # requests, the check, and breaking deadlocks
    total_ms: float


@dataclass(frozen=True, slots=True)
class TickResult:
    orders: dict[AgvId, AgvOrder]
    trips: tuple[TripAssignment, ...]  # new task trips, as the dispatcher decided them
    sent_to_charge: tuple[AgvId, ...]
    sent_to_park: tuple[AgvId, ...]
    returned_tasks: tuple[str, ...]  # back to the pool: their trip ended before the pick
    violations: tuple[Violation, ...]
    timings: TickTimings


@dataclass(slots=True)
class _Pending:
    """A plan requested and not installed yet: what `install` needs of the snapshot."""

    agents: tuple[AgentState, ...]
    bases: dict[AgvId, tuple[int, ...]]  # each AGV's allocation at the snapshot
    decisions: list[Decisions]  # the dispatch's, and those of requests never installed
    dispatch_ms: float


class FleetControl:
    def __init__(
        self,
        floor: CompiledFloor,
        planner: MotionPlanner,
        dispatcher: Dispatcher,
        *,
        base_depth: int = BASE_DEPTH,
        lookahead: int | None = None,
        clock: Callable[[], float] = time.perf_counter,
        can_take_back: Callable[[AgvId], bool] | None = None,
        plan_at_base_end: bool = False,
    ) -> None:
        """`lookahead`: plan steps each state keeps its AGV's base ahead (None: the
        states only confirm). Build it on the floor before any edge closes: the
        planner's worker copies the floor from here (`planner_setup`)."""
        if planner.floor is not floor:
            raise ValueError("the planner must plan on this floor")
        if lookahead is not None and lookahead < 1:
            raise ValueError(f"lookahead must be at least 1 step, not {lookahead}")
        self.floor = floor
        self.planner = planner
        self.dispatcher = dispatcher
        self.kernel = ReservationKernel.from_adjacency(floor.adjacency)
        self._base_depth = base_depth
        self._lookahead = lookahead
        self._clock = clock
        self._floor_data = FloorData.of(floor)
        self._closed_seen: tuple[int, ClosedEdges] = (floor.edges_version, frozenset())
        # Each AGV's latest installed plan, in time: its base at the snapshot, then the
        # planner's steps from the base's end (a wait repeats a node).
        self._plans: dict[AgvId, tuple[int, ...]] = {}
        self._pending: _Pending | None = None
        self._vehicles: dict[AgvId, Vehicle] = {}
        self._on_trips: set[str] = set()  # task ids a trip will still pick or drop
        self._returned: list[str] = []  # task ids back to the pool, until the next tick
        self._reported: list[Violation] = []  # by observe and closures, until the next tick
        self._yields: dict[AgvId, int] = {}  # deadlocks each AGV has given way in
        self._pockets = frozenset(floor.goals("station")) | frozenset(floor.goals("charger"))
        self._plan_at_base_end = plan_at_base_end
        # Whether an AGV's granted nodes ahead may be taken back to break a deadlock. In the
        # simulation always; on the edge not once they were released on the wire: a VDA 5050
        # AGV drives its released base whatever the kernel thinks.
        self._can_take_back: Callable[[AgvId], bool] = can_take_back or (lambda _agv: True)

    # --- AGVs ----------------------------------------------------------------------------

    def add_agv(
        self, agv_id: AgvId, node: int, *, capacity: int = 1, speed_mps: float = 1.0
    ) -> Violation | None:
        """An AGV joins the fleet standing on `node` (a PLACE_CONFLICT if another holds it)."""
        violation = self.kernel.place(agv_id, node)
        if violation is None:
            self._vehicles[agv_id] = Vehicle(agv_id, capacity, speed_mps, node)
            self.floor.expect_rack_tables(RACK_TABLES_PER_AGV * len(self._vehicles))
        return violation

    def observe(
        self,
        agv_id: AgvId,
        node: int,
        *,
        now_s: float,
        battery_pct: float,
        online: bool = True,
        failed: bool = False,
        working: bool = False,
        carrying: int = 0,
    ) -> tuple[int, ...]:
        """An AGV's state (the edge: its VDA 5050 state's lastNodeId, battery, errors,
        actions running, loads). Confirming its node frees what is behind it; with a
        `lookahead`, its base is then extended along its latest plan. Returns the nodes
        this released (the base's new end; empty if none): what an order update sends."""
        vehicle = self._vehicles[agv_id]
        kernel = self.kernel
        if online != vehicle.online:
            (kernel.online if online else kernel.offline)(agv_id)
            vehicle.online = online
        confirmed = True
        if node != vehicle.node:
            violation = kernel.confirm(agv_id, node)
            if violation is None:
                vehicle.node = node
            else:
                self._reported.append(violation)
                confirmed = False
        if working != vehicle.working:
            kernel.set_working(agv_id, working)
            vehicle.working = working
        if failed != vehicle.failed:
            self._set_failed(vehicle, failed, now_s)
        vehicle.battery_pct = battery_pct
        vehicle.carrying = carrying
        vehicle.seen_s = now_s
        if self._lookahead is None or not confirmed or vehicle.frozen():
            return ()
        return self._extend(vehicle.id, vehicle.node, self._lookahead)

    def _extend(self, agv_id: AgvId, node: int, steps: int) -> tuple[int, ...]:
        """Request the AGV's latest plan from `node` (where it is) up to `steps` steps
        ahead; the nodes newly granted. Behind or off its plan (a new plan comes with the
        next tick) nothing is granted on a guess."""
        at = _index(self._plans.get(agv_id, ()), node)
        if at is None:
            return ()
        kernel = self.kernel
        held = len(kernel.allocation(agv_id))
        kernel.request(agv_id, self._plans[agv_id][at : at + steps + 1])
        return kernel.allocation(agv_id)[held:]

    def stop_done(self, agv_id: AgvId) -> Stop:
        """The AGV finished the work at its current stop (VDA 5050: the action FINISHED).
        Returns that stop: its totes are now picked, or delivered."""
        vehicle = self._vehicles[agv_id]
        trip = vehicle.trip
        if trip is None or not trip.stops or not trip.stops[0].kind.works:
            raise ValueError(f"AGV {agv_id!r} has no work to finish")
        done = trip.finish_stop()
        vehicle.set_trip(trip)
        if done.kind is StopKind.DROP:
            self._on_trips.difference_update(done.task_ids)
        return done

    def _set_failed(self, vehicle: Vehicle, failed: bool, now_s: float) -> None:
        """A failed AGV is an obstacle: frozen where it stands, its held nodes still held
        (the kernel's failed state: never a stall, never a deadlock's yielder) and blocked
        for the planner, which routes the others round them from the next tick. The totes
        it has not picked yet go back to the pool."""
        vehicle.failed = failed
        (self.kernel.fail if failed else self.kernel.recover)(vehicle.id)
        if failed:
            vehicle.blocked = self.kernel.allocation(vehicle.id)
            for node in vehicle.blocked:
                self.floor.block_node(node)
            self._drop_picks(vehicle)
        else:
            for node in vehicle.blocked:
                if not self.kernel.is_blocked(node):  # still blocked by the caller
                    self.floor.unblock_node(node)
            vehicle.blocked = ()

    def _drop_picks(self, vehicle: Vehicle) -> None:
        """Its trip keeps only the drops of totes on board; the others return to the pool."""
        trip = vehicle.trip
        if trip is None or not trip.unpicked():
            return
        unpicked = trip.unpicked()
        self._returned.extend(unpicked)
        self._on_trips.difference_update(unpicked)
        trip.drop_only()
        vehicle.set_trip(trip)

    # --- The caller's hand in trips (the edge) --------------------------------------------

    def set_takes_work(self, agv_id: AgvId, takes_work: bool) -> None:
        """Whether the dispatcher may give the AGV a new trip. The edge withholds work from
        an AGV that still runs a VDA 5050 order or carries a tote it must first take home."""
        self._vehicles[agv_id].takes_work = takes_work

    def assign(self, agv_id: AgvId, stops: Sequence[Stop]) -> None:
        """A trip the caller decided, not the dispatcher: a tote stranded on a recovered AGV
        goes home on that AGV (a drop with no pick). Replaces whatever trip it had."""
        vehicle = self._vehicles[agv_id]
        self.abandon(agv_id)
        trip = Trip(list(stops))
        vehicle.set_trip(trip)
        self._on_trips.update(trip.task_ids())

    def abandon(self, agv_id: AgvId) -> tuple[str, ...]:
        """The AGV will not finish its trip (its order was rejected, failed or cancelled):
        the trip ends, and its tasks are the caller's again. Returns their ids."""
        vehicle = self._vehicles[agv_id]
        if vehicle.trip is None:
            return ()
        task_ids = vehicle.trip.task_ids()
        self._on_trips.difference_update(task_ids)
        vehicle.set_trip(None)
        return task_ids

    def relocate(self, agv_id: AgvId, node: int) -> Violation | None:
        """The AGV reports a node it was never granted (moved by hand, or re-initialised):
        it holds that node alone from now on, if nobody else holds it. Otherwise nothing
        changes and the conflict is returned (and reported with the next tick)."""
        holder = self.kernel.holder(node)
        if holder is not None and holder != agv_id:
            violation = Violation(ViolationKind.PLACE_CONFLICT, (agv_id, holder), (node,))
            self._reported.append(violation)
            return violation
        vehicle = self._vehicles[agv_id]
        offline = self.kernel.is_offline(agv_id)
        self.kernel.remove(agv_id)
        self.kernel.place(agv_id, node)
        if offline:
            self.kernel.offline(agv_id)
        vehicle.node = node
        return None

    def vehicle_node(self, agv_id: AgvId) -> int | None:
        """The node the AGV last confirmed; None for an AGV not in the fleet."""
        vehicle = self._vehicles.get(agv_id)
        return None if vehicle is None else vehicle.node

    # --- The floor changing --------------------------------------------------------------

    def close_edge(self, a: int, b: int) -> None:
        """An aisle segment closes: never granted again, routed around from the next tick.
        An AGV already released across it may still drive it (VDA 5050 takes a released
        base back only by cancelling the order); the kernel reports it, with the tick."""
        self.floor.close_edge(a, b)
        self._reported += self.kernel.close_edge(a, b)

    def open_edge(self, a: int, b: int) -> None:
        self.kernel.open_edge(a, b)
        self.floor.open_edge(a, b)

    def block_node(self, node: int) -> None:
        """As `close_edge`, for a node (a spill, a person on the floor)."""
        self.floor.block_node(node)
        self._reported += self.kernel.block_node(node)

    def unblock_node(self, node: int) -> None:
        self.kernel.unblock_node(node)
        holder = self.kernel.holder(node)
        if holder is None or not self.kernel.is_failed(holder):  # still a failed AGV's
            self.floor.unblock_node(node)

    # --- The tick --------------------------------------------------------------------------

    def tick(self, now_s: float, open_tasks: Sequence[PickTask]) -> TickResult:
        """Dispatch, plan, grant, check: every AGV's order for the next moments.
        `open_tasks`: the tasks waiting for an AGV (those already on a trip are ignored).
        The three steps below in one call, planned with this control's own planner."""
        request = self.plan_request(now_s, open_tasks)
        return self.install(plan_with(self.planner, request, self._clock), now_s)

    def plan_request(self, now_s: float, open_tasks: Sequence[PickTask]) -> PlanRequest:
        """The tick's first part, on the loop: dispatch (its decisions come out of the
        next `install`), then the planner's snapshot, picklable for a worker process
        (`plan_worker.plan_paths`). A request never installed (its planning failed) hands
        its decisions on to the next one."""
        clock = self._clock
        started = clock()
        decisions = self._dispatch(now_s, open_tasks)
        dispatched = clock()
        agents, bases = self._agents()
        earlier = self._pending.decisions if self._pending is not None else []
        self._pending = _Pending(
            tuple(agents), bases, [*earlier, decisions], (dispatched - started) * 1e3
        )
        return PlanRequest(tuple(agents), self._closed_edges(), self.floor.blocked)

    def install(self, planned: PlannedPaths, now_s: float) -> TickResult:
        """The tick's last part, on the loop: the plans of the last `plan_request`
        become the AGVs' plans; the kernel is asked for each AGV's next steps along it
        from where its base ends now, and checks; every AGV's order."""
        pending = self._pending
        if pending is None:
            raise ValueError("install without a plan_request")
        self._pending = None
        clock = self._clock
        started = clock()
        horizons = self._request(pending, planned.paths)
        violations = self._reported + self._check(now_s)
        self._reported = []
        orders = self._orders(horizons)
        kernel_ms = (clock() - started) * 1e3
        returned, self._returned = tuple(self._returned), []
        decisions = pending.decisions
        return TickResult(
            orders,
            tuple(t for d in decisions for t in d.trips),
            tuple(c.agv_id for d in decisions for c in d.charge),
            tuple(p.agv_id for d in decisions for p in d.park),
            returned,
            tuple(violations),
            TickTimings(
                pending.dispatch_ms,
                planned.plan_ms,
                kernel_ms,
                pending.dispatch_ms + planned.plan_ms + kernel_ms,
            ),
        )

    def planner_setup(self) -> PlannerSetup:
        """What a worker process needs to plan for this control (`plan_worker`)."""
        return PlannerSetup(self._floor_data, PlannerSettings.of(self.planner))

    def _closed_edges(self) -> ClosedEdges:
        """The floor's closed edges, worked out again only when an edge closed or opened."""
        version, closed = self._closed_seen
        if version != self.floor.edges_version:
            closed = self._floor_data.closed_edges(self.floor)
            self._closed_seen = (self.floor.edges_version, closed)
        return closed

    def _dispatch(self, now_s: float, open_tasks: Sequence[PickTask]) -> Decisions:
        """The dispatcher sees the AGVs in contact, and the tasks on no trip whose tote can
        be taken to its station now. A task cut off (its station behind a closed aisle or
        a failed AGV) waits until the way opens. The dispatcher's distances follow closed
        edges, but not the nodes a failed AGV blocks (the planner's alone), so it would
        send totes towards a station nobody can reach."""
        fleet = [v for v in self._vehicles.values() if v.dispatchable()]
        tasks = self.deliverable([t for t in open_tasks if t.id not in self._on_trips])
        decisions = self.dispatcher.decide([v.snapshot() for v in fleet], tasks, now_s)
        dropoff = {t.id: t.dropoff for t in tasks}
        for charge in decisions.charge:
            vehicle = self._vehicles[charge.agv_id]
            if vehicle.carrying:
                raise ValueError(f"AGV {vehicle.id!r} sent to charge with totes on board")
            self._drop_picks(vehicle)  # a trip on its way to a pickup is cancelled
            vehicle.set_trip(Trip([Stop(charge.charger, StopKind.CHARGE)]))
        for trip in decisions.trips:
            vehicle = self._vehicles[trip.agv_id]
            if not (vehicle.available() or vehicle.charging()):
                raise ValueError(f"a trip for AGV {vehicle.id!r}, which is busy")
            taken = self._on_trips.intersection(trip.task_ids)
            if taken:
                raise ValueError(f"tasks {sorted(taken)} are already on a trip")
            vehicle.set_trip(trip_of(trip.stops, trip.task_ids, dropoff))
            self._on_trips.update(trip.task_ids)
        for park in decisions.park:
            vehicle = self._vehicles[park.agv_id]
            if not vehicle.available():
                raise ValueError(f"AGV {vehicle.id!r} sent to park while busy")
            vehicle.set_trip(Trip([Stop(park.node, StopKind.PARK)]))
        return decisions

    def _agents(self) -> tuple[list[AgentState], dict[AgvId, tuple[int, ...]]]:
        """Each AGV as the planner sees it: at the end of its base (it is committed to
        driving there), heading for its stop unless it must wait its turn there. Also
        each one's base."""
        kernel = self.kernel
        vehicles = self._vehicles.values()
        bases = {v.id: kernel.allocation(v.id) for v in vehicles}
        bound = [Bound(v.id, bases[v.id][-1], self._heading(v, bases[v.id])) for v in vehicles]
        tables = self.floor.distance_tables({b.goal for b in bound if b.goal is not None})
        goals = planner_goals(bound, self._distance(tables), self._refuge)
        agents = []
        for vehicle in vehicles:
            goal = goals[vehicle.id]
            kernel.set_goal(vehicle.id, goal)
            # Still driving a base it holds ahead: committed, standing still for this plan
            # (on the edge, where AGVs take several ticks per edge; the simulation's AGVs
            # reach their base's end every tick).
            driving = self._plan_at_base_end and len(bases[vehicle.id]) > 1
            frozen = vehicle.frozen()
            agents.append(
                AgentState(
                    vehicle.id,
                    bases[vehicle.id][-1],
                    goal,
                    frozen or driving,
                    committed=driving and not frozen,
                    yields=vehicle.trip is not None and vehicle.trip.parked,
                )
            )
        return agents, bases

    def _heading(self, vehicle: Vehicle, base: tuple[int, ...]) -> int | None:
        """Where the AGV is bound: its stop. A failed one is going nowhere until it
        recovers (not a stall, only an obstacle). One with nothing to do standing on a
        station or a charger heads for a refuge until it is out: such nodes are pockets,
        and an idle AGV in one closes it, the planner cannot make it back out past the AGV
        that wants in (seen with the baselines, which do not park: stalls of minutes)."""
        if vehicle.failed:
            return None
        if vehicle.trip is None and base[-1] in self._pockets:
            return self._refuge(base[-1])
        return vehicle.goal

    def _distance(self, tables: dict[int, Table]) -> Callable[[int, int], float]:
        """Metres from a node to a goal of `tables`; inf where a failed AGV (or any
        blocked node) cuts it off, which the tables do not know."""
        cut_off = self.planner.cut_off

        def distance(node: int, goal: int) -> float:
            return math.inf if cut_off(node, goal) else tables[goal].item(node)

        return distance

    def _refuge(self, node: int) -> int | None:
        """The nearest parking node reachable from `node` that no other AGV stands on or
        is parked at, to wait out of the way."""
        taken = {v.node for v in self._vehicles.values() if v.node != node}
        taken |= {v.trip.stops[0].node for v in self._vehicles.values() if v.trip and v.trip.parked}
        free = [p for p in self.floor.goals("parking") if p not in taken]
        tables = self.floor.distance_tables(free)
        metres, nearest = min(
            ((table.item(node), goal) for goal, table in tables.items()), default=(math.inf, 0)
        )
        return nearest if math.isfinite(metres) else None

    def _request(
        self, pending: _Pending, paths: dict[AgvId, list[int]]
    ) -> dict[AgvId, tuple[int, ...]]:
        """Ask the kernel for each AGV's planned steps from where its base ends now, up to
        the base depth; what is not granted (or not asked for) is its horizon."""
        kernel, depth = self.kernel, self._base_depth
        horizons: dict[AgvId, tuple[int, ...]] = {}
        for agent in pending.agents:
            plan = (*pending.bases[agent.id], *paths[agent.id])
            self._plans[agent.id] = plan
            base = kernel.allocation(agent.id)
            at = _index(plan, base[-1])
            if at is None:
                # Its base ran past where this plan goes (states extended it along the
                # plan before): nothing more until the next tick plans from there.
                at, plan = 0, (base[-1],)
            frozen = agent.frozen or self._vehicles[agent.id].frozen()
            room = 0 if frozen else max(0, depth - (len(base) - 1))
            # The plan's first `room` steps, in time: where it plans to wait, it waits. An
            # AGV asking for nothing still asks: that withdraws its last wait, which would
            # otherwise stay in the wait-for graph and could close a false cycle.
            kernel.request(agent.id, plan[at : at + room + 1])
            horizons[agent.id] = self._horizon(agent.id)
        return horizons

    def _check(self, now_s: float) -> list[Violation]:
        """The kernel's check; each deadlock broken by its chosen AGV giving way."""
        violations = self.kernel.check(now_s, self._goal_reachable)
        for violation in violations:
            if violation.kind is not ViolationKind.DEADLOCK:
                continue
            # The kernel's choice first; the others of the cycle if its nodes ahead cannot be
            # taken back (offline, or released on the wire).
            yielder = next(
                (
                    agv
                    for agv in violation.agvs
                    if self.kernel.can_yield(agv) and self._can_take_back(agv)
                ),
                None,
            )
            if yielder is not None:
                self.kernel.release_ahead(yielder)
                self._plans.pop(yielder, None)  # states must not take it all back
                # Its next deadlock, someone else yields: nobody gives way for ever.
                self._yields[yielder] = self._yields.get(yielder, 0) + 1
                self.kernel.set_priority(yielder, self._yields[yielder])
        return violations

    def _goal_reachable(self, agv_id: AgvId) -> bool:
        vehicle = self._vehicles[agv_id]
        goal = vehicle.goal
        if goal is None or goal in self.floor.blocked:
            return False
        if self.planner.cut_off(vehicle.node, goal):
            return False
        return math.isfinite(self.floor.distances_to(goal).item(vehicle.node))

    def _orders(self, horizons: dict[AgvId, tuple[int, ...]]) -> dict[AgvId, AgvOrder]:
        allocation = self.kernel.allocation
        return {
            agv_id: AgvOrder(allocation(agv_id), horizons.get(agv_id, ()), v.stop, v.stop_key)
            for agv_id, v in self._vehicles.items()
        }

    def _horizon(self, agv_id: AgvId) -> tuple[int, ...]:
        """The AGV's latest plan beyond the end of its base, waits left out."""
        plan = self._plans.get(agv_id, ())
        end = self.kernel.allocation(agv_id)[-1]
        at = _index(plan, end)
        return () if at is None else _collapsed(end, plan[at + 1 :])

    # --- Queries ---------------------------------------------------------------------------

    def order(self, agv_id: AgvId) -> AgvOrder:
        """The AGV's order now (between ticks too): its base as the kernel holds it, the
        rest of its latest plan, its stop."""
        vehicle = self._vehicles[agv_id]
        return AgvOrder(
            self.kernel.allocation(agv_id), self._horizon(agv_id), vehicle.stop, vehicle.stop_key
        )

    def deliverable(self, tasks: Sequence[PickTask]) -> list[PickTask]:
        """Those of `tasks` whose tote can be taken from its pickup to its station now."""
        to_station = self.floor.distance_tables({t.dropoff for t in tasks})
        cut_off = self.planner.cut_off
        return [
            t
            for t in tasks
            if math.isfinite(to_station[t.dropoff].item(t.pickup))
            and not cut_off(t.pickup, t.dropoff)
        ]

    def agv_ids(self) -> list[AgvId]:
        return list(self._vehicles)

    def trip(self, agv_id: AgvId) -> Trip | None:
        return self._vehicles[agv_id].trip

    def tasks_on_trips(self) -> frozenset[str]:
        return frozenset(self._on_trips)


def _index(plan: Sequence[int], node: int) -> int | None:
    """Where `node` first comes in `plan`, if it does."""
    try:
        return plan.index(node)
    except ValueError:
        return None


def _collapsed(start: int, path: Iterable[int]) -> tuple[int, ...]:
    """The path's nodes after `start`, waits (repeats) left out."""
    nodes = []
    previous = start
    for node in path:
        if node != previous:
            nodes.append(node)
            previous = node
    return tuple(nodes)
