"""The reservation kernel: the always-on safety layer under the motion planner.

Whatever the planner proposes, an AGV is only released (VDA 5050 base) over nodes and edges
this kernel has granted it, and the kernel grants each node and edge to one AGV at a time.
So a planner bug can make AGVs wait, never collide. Each AGV's allocation is a simple path:
its last confirmed node first, then the granted nodes ahead in driving order, holding the
edge into each. Confirms free what lies behind; nothing else frees a granted base while the
AGV may still drive it.

`check` runs every tick and reports what the planner or the caller must act on: broken
ownership (a kernel bug), wait-for cycles (deadlocks) and AGVs that stopped making progress.
Pure: time comes in as `now_s`, and nothing here touches the world.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from enum import Enum
from itertools import pairwise
from typing import NamedTuple

from controller.traffic.audit import audit_ownership
from controller.traffic.errors import (
    AgvAlreadyPlaced,
    AgvFailed,
    AgvOffline,
    UnknownAgv,
    UnknownEdge,
    UnknownNode,
)
from controller.traffic.ids import AgvId, Edge, edge_key
from controller.traffic.violations import Violation, ViolationCounter, ViolationKind
from controller.traffic.waitfor import wait_cycles

STALL_S = 60.0  # a minute without progress towards a reachable goal: the AGV is stuck


class Refusal(Enum):
    """Why a request was granted only up to some node."""

    HELD = "held"  # another AGV holds the node (or the edge into it): the requester waits
    NODE_BLOCKED = "node_blocked"
    EDGE_CLOSED = "edge_closed"
    NOT_ADJACENT = "not_adjacent"  # no edge from the previous node (or no such node)
    LEAVES_ALLOCATION = "leaves_allocation"  # turns off its granted path before its end
    REVISITS = "revisits"  # returns to a node it already holds: an allocation is a simple path
    NOT_FROM_ALLOCATION = "not_from_allocation"  # path[0] is not a node it holds (or no path)
    OFFLINE = "offline"  # an AGV out of contact could not be sent the order anyway
    FAILED = "failed"  # a failed AGV cannot drive: it is granted nothing until it recovers


class Grant(NamedTuple):
    """The granted prefix of a requested path, from path[0] (consecutive repeats, the
    planner's waits, collapsed), and why the rest was refused. The AGV may be released
    only over what it holds: `ReservationKernel.allocation` is the base to send.

    A named tuple, not a frozen dataclass: one is made per AGV per tick, and building a
    frozen dataclass costs about twice as much."""

    agv_id: AgvId
    nodes: tuple[int, ...]
    refusal: Refusal | None = None  # None: the whole path was granted
    refused_node: int | None = None
    blocker: AgvId | None = None  # the holder of the refused node, if it is an AGV's

    @property
    def complete(self) -> bool:
        return self.refusal is None

    @property
    def edges(self) -> tuple[Edge, ...]:
        return tuple(edge_key(a, b) for a, b in pairwise(self.nodes))


class _Agv:
    """The kernel's record of one AGV."""

    __slots__ = (
        "allocation",
        "current",
        "failed",
        "goal",
        "last_progress_s",
        "offline",
        "priority",
        "progressed",
        "working",
    )

    def __init__(self, node: int) -> None:
        self.allocation: list[int] = [node]  # current node first, then ahead in driving order
        self.current = node  # the last node it confirmed (or was placed at)
        self.priority = 0  # higher: more important; the lowest yields in a deadlock
        self.offline = False
        self.failed = False  # broken down where it stands: an obstacle, not a stall
        self.goal: int | None = None
        self.working = False  # picking, charging...: standing still is not a stall
        self.last_progress_s: float | None = None  # stamped by the next check
        self.progressed = True  # since the last check: the next check restarts its clock


class ReservationKernel:
    """Exclusive holds on the nodes 0..node_count-1 and the undirected `edges` of a floor."""

    def __init__(self, node_count: int, edges: Iterable[tuple[int, int]]) -> None:
        neighbours: list[set[int]] = [set() for _ in range(node_count)]
        for a, b in edges:
            if not (0 <= a < node_count and 0 <= b < node_count) or a == b:
                raise UnknownEdge(a, b)
            neighbours[a].add(b)
            neighbours[b].add(a)
        self._neighbours = [frozenset(n) for n in neighbours]
        self._node_owner: list[AgvId | None] = [None] * node_count
        self._edge_owner: dict[Edge, AgvId] = {}
        self._blocked: set[int] = set()
        self._closed: set[Edge] = set()
        self._agvs: dict[AgvId, _Agv] = {}
        # Each AGV whose last request was refused at a node another AGV held: that node.
        # Who it waits for is whoever holds the node now, so a wait ends when the node frees.
        self._waiting_on: dict[AgvId, int] = {}
        self._counter = ViolationCounter()

    @classmethod
    def from_adjacency(cls, adjacency: Sequence[Iterable[int]]) -> ReservationKernel:
        """`adjacency[node]` lists the node's neighbours."""
        return cls(len(adjacency), ((a, b) for a, nexts in enumerate(adjacency) for b in nexts))

    # --- AGVs arriving, leaving, losing contact ------------------------------------------

    def place(self, agv_id: AgvId, node: int) -> Violation | None:
        """An AGV appears (start-up, a controller restart) holding the node it stands on.
        If another AGV holds that node, nothing is placed and the conflict is reported:
        two AGVs cannot share a node, so one record is wrong and the caller must decide."""
        self._check_node(node)
        if agv_id in self._agvs:
            raise AgvAlreadyPlaced(agv_id, self._agvs[agv_id].current)
        holder = self._node_owner[node]
        if holder is not None:
            return self._report(Violation(ViolationKind.PLACE_CONFLICT, (agv_id, holder), (node,)))
        self._agvs[agv_id] = _Agv(node)
        self._node_owner[node] = agv_id
        return None

    def remove(self, agv_id: AgvId) -> None:
        """The AGV has left the site: everything it holds is free."""
        agv = self._agv(agv_id)
        self._free(agv_id, agv.allocation, agv.allocation)
        del self._agvs[agv_id]
        self._waiting_on.pop(agv_id, None)

    def offline(self, agv_id: AgvId) -> None:
        """Out of contact. It keeps its whole allocation (it may still be driving its
        released base) and is granted nothing more until it is back."""
        self._agv(agv_id).offline = True

    def online(self, agv_id: AgvId) -> None:
        agv = self._agv(agv_id)
        if agv.offline:
            agv.offline = False
            agv.progressed = True  # the time out of contact is not a stall

    def fail(self, agv_id: AgvId) -> None:
        """Broken down (a fatal error in its state). Unlike an AGV out of contact it is
        known to stand still, but like one it keeps everything it holds (it may have
        stopped anywhere on its base), is granted nothing, waits for nobody, is never
        stalled and never chosen to yield in a deadlock, until it recovers."""
        self._agv(agv_id).failed = True
        self._waiting_on.pop(agv_id, None)

    def recover(self, agv_id: AgvId) -> None:
        agv = self._agv(agv_id)
        if agv.failed:
            agv.failed = False
            agv.progressed = True  # the time broken down is not a stall

    # --- What the caller tells the kernel about each AGV's work ---------------------------

    def set_priority(self, agv_id: AgvId, priority: int) -> None:
        """Higher is more important; in a deadlock the lowest-priority AGV yields."""
        self._agv(agv_id).priority = priority

    def set_goal(self, agv_id: AgvId, goal: int | None) -> None:
        """Where the AGV is heading (None: nowhere, it is idle). A new goal restarts the
        stall clock."""
        if goal is not None:
            self._check_node(goal)
        agv = self._agv(agv_id)
        if goal != agv.goal:
            agv.goal = goal
            agv.progressed = True

    def set_working(self, agv_id: AgvId, working: bool) -> None:
        """Working at its node (picking, dropping, charging): standing still is expected.
        The stall clock restarts when the work ends."""
        agv = self._agv(agv_id)
        if working != agv.working:
            agv.working = working
            agv.progressed = True

    # --- Granting, confirming, releasing -------------------------------------------------

    def request(self, agv_id: AgvId, path: Sequence[int]) -> Grant:
        """Extend the AGV's allocation along `path`, which starts at a node it holds
        (normally its current node, or the end of its allocation) and may repeat nodes it
        already holds: those are granted again as they are. The longest admissible prefix
        is granted, node by node with the edge into it; the first node held by another AGV,
        blocked, behind a closed edge, not adjacent, or off its allocation stops it."""
        agv = self._agv(agv_id)
        if self._waiting_on:
            self._waiting_on.pop(agv_id, None)  # only the last request counts for waits
        allocation = agv.allocation
        try:
            at = allocation.index(path[0])
        except (IndexError, ValueError):
            return Grant(agv_id, (), Refusal.NOT_FROM_ALLOCATION, path[0] if path else None)
        if agv.offline:
            return Grant(agv_id, (), Refusal.OFFLINE, path[0])
        if agv.failed:
            return Grant(agv_id, (), Refusal.FAILED, path[0])

        # Along what it already holds: granted again as it is.
        held = len(allocation)
        previous = path[0]
        granted = [previous]
        i = 1
        while i < len(path) and at + 1 < held:
            node = path[i]
            i += 1
            if node == previous:
                continue  # the planner waiting a step
            at += 1
            if node != allocation[at]:
                return Grant(agv_id, tuple(granted), Refusal.LEAVES_ALLOCATION, node)
            granted.append(node)
            previous = node

        # Beyond its end: each node must be adjacent, open, unblocked and free.
        neighbours, node_owner, edge_owner = self._neighbours, self._node_owner, self._edge_owner
        while i < len(path):
            node = path[i]
            i += 1
            if node == previous:
                continue
            if node not in neighbours[previous]:  # also every id that is not a node
                return Grant(agv_id, tuple(granted), Refusal.NOT_ADJACENT, node)
            edge = (previous, node) if previous < node else (node, previous)
            refusal, blocker = self._refusal(agv_id, edge, node)
            if refusal is not None:
                if refusal is Refusal.HELD and node_owner[node] is not None:
                    self._waiting_on[agv_id] = node
                return Grant(agv_id, tuple(granted), refusal, node, blocker)
            node_owner[node] = agv_id
            edge_owner[edge] = agv_id
            allocation.append(node)
            granted.append(node)
            previous = node
        return Grant(agv_id, tuple(granted))

    def _refusal(self, agv_id: AgvId, edge: Edge, node: int) -> tuple[Refusal | None, AgvId | None]:
        """Why the AGV may not take `edge` into `node` at the end of its allocation."""
        if edge in self._closed:
            return Refusal.EDGE_CLOSED, None
        if node in self._blocked:
            return Refusal.NODE_BLOCKED, None
        holder = self._node_owner[node]
        if holder == agv_id:
            return Refusal.REVISITS, None
        if holder is None:
            # Never so while edges are only held with both their nodes; checked all the same.
            holder = self._edge_owner.get(edge)
        if holder is not None:
            return Refusal.HELD, holder
        return None, None

    def confirm(self, agv_id: AgvId, node: int) -> Violation | None:
        """The AGV's state says it is at `node` (its lastNodeId): free what it holds behind
        `node`, keep `node` and what lies ahead. A node it does not hold is reported and
        changes nothing: it drove where it was never granted, or the report is wrong."""
        agv = self._agv(agv_id)
        allocation = agv.allocation
        try:
            at = allocation.index(node)
        except ValueError:
            holder = self._node_owner[node] if 0 <= node < len(self._node_owner) else None
            involved = (agv_id,) if holder is None else (agv_id, holder)
            return self._report(Violation(ViolationKind.CONFIRM_NOT_HELD, involved, (node,)))
        if at:
            self._free(agv_id, allocation[:at], allocation[: at + 1])  # the passed nodes
            del allocation[:at]
            agv.current = node
            agv.progressed = True
        return None

    def release_ahead(self, agv_id: AgvId) -> tuple[int, ...]:
        """Drop everything ahead of the AGV's current node (its order was cancelled or is
        being replanned) and withdraw its wait: this is how an AGV yields in a deadlock.
        Returns the freed nodes. Refused while the AGV is offline or failed (see
        `AgvOffline`, `AgvFailed`)."""
        agv = self._agv(agv_id)
        if agv.offline:
            raise AgvOffline(agv_id)
        if agv.failed:
            raise AgvFailed(agv_id)
        self._waiting_on.pop(agv_id, None)
        allocation = agv.allocation
        freed = tuple(allocation[1:])
        self._free(agv_id, freed, allocation)
        del allocation[1:]
        return freed

    def _free(self, agv_id: AgvId, nodes: Sequence[int], path: Sequence[int]) -> None:
        """Let go of `nodes` and of the edges between consecutive nodes of `path`. Only
        what the AGV owns is touched, so a slip elsewhere cannot free another AGV's hold."""
        for node in nodes:
            if self._node_owner[node] == agv_id:
                self._node_owner[node] = None
        edge_owner = self._edge_owner
        for a, b in pairwise(path):
            edge = (a, b) if a < b else (b, a)
            if edge_owner.get(edge) == agv_id:
                del edge_owner[edge]

    # --- Blocked nodes and closed edges --------------------------------------------------

    def block_node(self, node: int) -> list[Violation]:
        """Never grant `node` again until unblocked. An AGV already holding it ahead keeps
        its base (it may be driving it, and VDA 5050 takes a released base back only by
        cancelling the order); it is reported so the caller replans it."""
        self._check_node(node)
        self._blocked.add(node)
        return self._counter.add(self._blocked_held_ahead([node], []))

    def unblock_node(self, node: int) -> None:
        self._blocked.discard(node)

    def close_edge(self, a: int, b: int) -> list[Violation]:
        """Never grant the edge again until reopened; an AGV holding it is reported."""
        edge = self._check_edge(a, b)
        self._closed.add(edge)
        return self._counter.add(self._blocked_held_ahead([], [edge]))

    def open_edge(self, a: int, b: int) -> None:
        self._closed.discard(self._check_edge(a, b))

    def _blocked_held_ahead(self, nodes: Iterable[int], edges: Iterable[Edge]) -> list[Violation]:
        found = []
        for node in nodes:
            holder = self._node_owner[node]
            if holder is not None and self._agvs[holder].current != node:
                found.append(Violation(ViolationKind.BLOCKED_HELD_AHEAD, (holder,), (node,)))
        for edge in edges:
            holder = self._edge_owner.get(edge)
            if holder is not None:
                found.append(Violation(ViolationKind.BLOCKED_HELD_AHEAD, (holder,), edges=(edge,)))
        return found

    # --- The per-tick check --------------------------------------------------------------

    def check(
        self, now_s: float, goal_reachable: Callable[[AgvId], bool] | None = None
    ) -> list[Violation]:
        """Every invariant, once per tick: (1) no node or edge held twice, owner maps and
        allocations agreeing; (2) each allocation starting at its AGV's confirmed node;
        (3) no wait-for cycle; (4) no AGV more than STALL_S without progress while its goal
        is reachable (`goal_reachable` is asked only about such AGVs; None: all are); and
        still-held blocked nodes and closed edges. Progress since the last check is
        stamped `now_s`, so stall times are measured in ticks."""
        found = audit_ownership(
            {agv_id: agv.allocation for agv_id, agv in self._agvs.items()},
            self._node_owner,
            self._edge_owner,
        )
        found += self._positions_lost()
        found += self.deadlocks()
        found += self._stalls(now_s, goal_reachable)
        found += self._blocked_held_ahead(sorted(self._blocked), sorted(self._closed))
        return self._counter.add(found)

    def _positions_lost(self) -> list[Violation]:
        """Whether the first node is also owned is the ownership audit's business."""
        return [
            Violation(ViolationKind.CURRENT_NOT_HELD, (agv_id,), (agv.current,))
            for agv_id, agv in self._agvs.items()
            if not agv.allocation or agv.allocation[0] != agv.current
        ]

    def deadlocks(self) -> list[Violation]:
        """Each wait-for cycle: `agvs` in wait order (each waits for the next, the last for
        the first) starting with the one that should yield, `nodes[i]` the node `agvs[i]`
        waits for. To break it: `release_ahead(agvs[0])`, then replan that AGV."""
        found = []
        for cycle in wait_cycles(self.waits_for()):
            yielder = cycle.index(self.choose_yielder(cycle))
            ordered = cycle[yielder:] + cycle[:yielder]
            waited = tuple(self._waiting_on[agv_id] for agv_id in ordered)
            found.append(Violation(ViolationKind.DEADLOCK, ordered, waited))
        return sorted(found, key=lambda v: v.agvs[0])

    def choose_yielder(self, cycle: Sequence[AgvId]) -> AgvId:
        """Which member of a wait-for cycle (in wait order) should give way: first one whose
        yield frees the node its waiter wants (it holds it ahead, not underneath), and
        that is online and not failed (it can be told, and can drive); then the lowest
        priority; then the most held ahead (it gives back the most room); then the lowest
        id, so the choice is the same every time."""

        def cost(position: int) -> tuple[bool, bool, int, int, AgvId]:
            agv_id = cycle[position]
            agv = self._agvs[agv_id]
            wanted = self._waiting_on.get(cycle[position - 1])
            frees_it = wanted is not None and wanted in agv.allocation[1:]
            cannot = agv.offline or agv.failed
            return (cannot, not frees_it, agv.priority, -len(agv.allocation), agv_id)

        return cycle[min(range(len(cycle)), key=cost)]

    def _stalls(
        self, now_s: float, goal_reachable: Callable[[AgvId], bool] | None
    ) -> list[Violation]:
        found = []
        for agv_id, agv in self._agvs.items():
            if agv.progressed or agv.last_progress_s is None:
                agv.last_progress_s = now_s
                agv.progressed = False
                continue
            if (
                agv.goal is None
                or agv.goal == agv.current
                or agv.working
                or agv.offline  # losing contact is the master control's report, not ours
                or agv.failed  # so is a breakdown: standing still is all it can do
                or now_s - agv.last_progress_s <= STALL_S
            ):
                continue
            if goal_reachable is None or goal_reachable(agv_id):
                found.append(Violation(ViolationKind.STALL, (agv_id,), (agv.current, agv.goal)))
        return found

    # --- Queries -------------------------------------------------------------------------

    def __contains__(self, agv_id: object) -> bool:
        return agv_id in self._agvs

    def agv_ids(self) -> list[AgvId]:
        return list(self._agvs)

    def allocation(self, agv_id: AgvId) -> tuple[int, ...]:
        """Its current node, then what it holds ahead in driving order: the VDA 5050 base."""
        return tuple(self._agv(agv_id).allocation)

    def current_node(self, agv_id: AgvId) -> int:
        return self._agv(agv_id).current

    def is_offline(self, agv_id: AgvId) -> bool:
        return self._agv(agv_id).offline

    def is_blocked(self, node: int) -> bool:
        return node in self._blocked

    def is_failed(self, agv_id: AgvId) -> bool:
        return self._agv(agv_id).failed

    def can_yield(self, agv_id: AgvId) -> bool:
        """Whether `release_ahead` may be asked of it: in contact and not failed."""
        agv = self._agv(agv_id)
        return not (agv.offline or agv.failed)

    def holder(self, node: int) -> AgvId | None:
        self._check_node(node)  # a negative index would quietly answer for another node
        return self._node_owner[node]

    def edge_holder(self, a: int, b: int) -> AgvId | None:
        return self._edge_owner.get(edge_key(a, b))

    def waits_for(self) -> dict[AgvId, AgvId]:
        """The wait-for graph: each waiting AGV and the AGV holding the node it waits on."""
        graph = {}
        for agv_id, node in self._waiting_on.items():
            holder = self._node_owner[node]
            if holder is not None and holder != agv_id:
                graph[agv_id] = holder
        return graph

    def violation_counts(self) -> dict[ViolationKind, int]:
        return self._counter.counts()

    # --- Internals -----------------------------------------------------------------------

    def _agv(self, agv_id: AgvId) -> _Agv:
        agv = self._agvs.get(agv_id)
        if agv is None:
            raise UnknownAgv(agv_id)
        return agv

    def _check_node(self, node: int) -> None:
        if not 0 <= node < len(self._node_owner):
            raise UnknownNode(node)

    def _check_edge(self, a: int, b: int) -> Edge:
        if not 0 <= a < len(self._neighbours) or b not in self._neighbours[a]:
            raise UnknownEdge(a, b)
        return edge_key(a, b)

    def _report(self, violation: Violation) -> Violation:
        self._counter.add([violation])
        return violation
