"""The motion planner the control loop calls every tick.

`plan` takes every AGV's node and goal and gives each a rolling-horizon path: PIBT run
forward `horizon` joint steps from the current configuration (`pibt.step`). Only the first
step is requested from the kernel; the rest is a forecast, replanned next tick.

Blocked nodes (a failed AGV, a spill) stay in the floor's distance tables, so an agent whose
shortest way by its table runs through one is given a table of its own goal that goes
round every blocked node (`detour.py`), until its goal changes: a detour starts on the
next tick (a few tables a tick, nearest the blockage first), and no tick repairs the
floor's cached tables for it. `cut_off` tells the caller which goals blocked nodes cut
off altogether.

PIBT's priorities are the planner's state between ticks: an agent gains one per tick away
from its goal and drops back at it (Okumura et al. 2022), so whoever has waited longest
goes first; ties go to whoever started farther from the goal, then a seeded draw.

When an agent makes no progress for `stall_steps` ticks (its distance to the goal not
below its best so far, while the goal is reachable and free) and nobody around it makes
any either (a knot, not slow traffic), the agents around it are handed to the LaCAM
fallback (`lacam.search`) with everyone else standing still. A plan found is a
joint plan: its agents follow it in lockstep, nobody else may enter a node it still needs,
and it is dropped as soon as reality departs from it (an agent did not move as planned, a
goal changed, an agent froze). A search that fails backs off before that agent is tried
again, so that an agent waiting for a frozen one to finish does not cost a search a tick.
"""

from __future__ import annotations

import math
import random
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from controller.traffic import detour, lacam, pibt
from controller.traffic.floor import CompiledFloor, Table

# Steps planned per tick: the kernel is asked for the first; the rest show where each AGV
# is heading, each one more PIBT step (~4 ms for 500 AGVs).
HORIZON = 3
# Ticks without getting nearer the goal before the fallback: an agent pushed back along a
# 10-cell aisle to let another pass and coming back again is not stuck. On the benchmark
# floor (500 AGVs, 2,000 ticks) 24 ran 1,429 searches and delivered 6 % less than PIBT
# alone, whose swap rule untangles most knots there; 32 with the traffic check
# (`_traffic_flows`) ran 317 and delivered as much.
STALL_STEPS = 32
# Wall clock for all fallback searches in one tick: PIBT takes ~15 ms for 500 AGVs and the
# planner's share of a 300 ms tick should stay well under 100 ms. On the benchmark floor
# nearly every search that succeeds does so within it (measured with 24 stalled ticks:
# 73 of 80 searches found a plan at 20 ms, 74 at 50 ms).
FALLBACK_BUDGET_S = 0.02
FALLBACK_RADIUS = 3  # hops from an agent in the subproblem within which others join it
# Agents in one search: an expansion costs ~15 µs per agent, so 16 allow ~80 in budget.
FALLBACK_MAX_AGENTS = 16
MAX_BACKOFF_TICKS = 256  # the longest wait after failed searches before trying again
PROGRESS_M = 1e-3  # "nearer the goal": by more than float32 noise, less than any edge
# Detour tables computed per tick at most (one Dijkstra each, ~7 ms on 42k nodes): agents
# bound for a goal whose table is not made yet follow the floor's table for another tick.
DETOURS_PER_TICK = 4
DETOUR_ULPS = 4e-7  # float32 sums along a path: "on a shortest path" within a few ulps


@dataclass(frozen=True, slots=True)
class AgentState:
    """One AGV as the planner sees it. A frozen agent (picking, failed, offline) never moves
    and is an obstacle; an agent with no goal stays where it is unless asked to make way."""

    id: str
    node: int
    goal: int | None = None
    frozen: bool = False
    # Frozen only for this plan: on its way to `node` (the end of its base), not stopped.
    # A joint plan it is on holds: it is doing its step, at its own pace.
    committed: bool = False
    # Bound for a parking node: it goes there, but after every agent with work has moved,
    # so that one is never held up by it (a dead-end parking row is left open that way).
    yields: bool = False


@dataclass(slots=True)
class PlannerStats:
    ticks: int = 0
    steps_planned: int = 0  # joint PIBT steps, forecast ones included
    fallback_invocations: int = 0
    fallback_successes: int = 0
    detour_tables: int = 0  # computed: one per goal and set of blocked nodes
    plan_time_s: float = 0.0  # in `plan`, all ticks
    last_plan_time_s: float = 0.0


@dataclass(slots=True)
class _Progress:
    """An agent's PIBT priority and its progress toward its current goal."""

    goal: int | None
    tie: float  # seeded per agent: the last tie-break between priorities
    start_distance: float  # at the goal's assignment: farther goes first among equals
    elapsed: int = 0  # ticks away from the goal
    best: float = math.inf  # the nearest it has been to the goal
    stalled: int = 0  # ticks since `best` last improved
    failures: int = 0  # fallback searches for it that failed in a row
    retry_at: int = 0  # the tick from which the fallback may be tried again

    def priority(self) -> tuple[int, float, float]:
        return (self.elapsed, self.start_distance, self.tie)


@dataclass(slots=True)
class _JointPlan:
    """A fallback plan: its agents' configurations, one per step; `at` is the current one."""

    agents: tuple[str, ...]
    goals: tuple[int | None, ...]
    configurations: list[lacam.Configuration]
    at: int = 0

    def ahead(self, steps: int) -> lacam.Configuration:
        """The configuration `steps` after the current one (the last once it is done)."""
        return self.configurations[min(self.at + steps, len(self.configurations) - 1)]

    def nodes_still_needed(self) -> set[int]:
        return {node for conf in self.configurations[self.at + 1 :] for node in conf}


@dataclass(eq=False)
class MotionPlanner:
    """Plans every AGV's next steps, tick after tick (module docstring). `fallback=False`
    runs PIBT alone; `clock` times the fallback's budget and the stats."""

    floor: CompiledFloor
    horizon: int = HORIZON
    seed: int = 0
    stall_steps: int = STALL_STEPS
    fallback: bool = True
    fallback_budget_s: float = FALLBACK_BUDGET_S
    fallback_max_expansions: int | None = None  # per tick too; tests bound by count, not time
    fallback_radius: int = FALLBACK_RADIUS
    fallback_max_agents: int = FALLBACK_MAX_AGENTS
    detours_per_tick: int = DETOURS_PER_TICK
    clock: Callable[[], float] = time.perf_counter
    stats: PlannerStats = field(default_factory=PlannerStats)

    def __post_init__(self) -> None:
        if self.horizon < 1:
            raise ValueError("the horizon is at least one step")
        self._rng = random.Random(self.seed)
        self._progress: dict[str, _Progress] = {}
        self._plans: list[_JointPlan] = []
        self._edges_version = self.floor.edges_version
        # Detours: who is on one (agent -> its goal), the tables (goal -> table) for the
        # blocked nodes and edges of `_detour_key`, those of the previous key served until
        # replaced, and the table each agent was given last tick.
        self._detouring: dict[str, int] = {}
        self._detour_key: tuple[frozenset[int], int] | None = None
        self._detour_tables: dict[int, Table] = {}
        self._old_detour_tables: dict[int, Table] = {}
        self._blocked_from: list[tuple[int, Table]] = []  # each blocked node's own table
        self._served: dict[str, Table] = {}
        self._components_key: tuple[frozenset[int], int] | None = None
        self._components = np.zeros(0, dtype=np.int32)
        self._graph_key: tuple[frozenset[int], int] | None = None
        self._detour_graph = detour.without(self.floor, ())

    def plan(self, agents: Sequence[AgentState]) -> dict[str, list[int]]:
        """Each agent's next `horizon` nodes (its own node where it waits). The first is the
        step to request this tick: together they have no vertex conflict, no swap, and no
        agent enters a node another occupies now or a blocked node."""
        started = self.clock()
        if len({agent.id for agent in agents}) != len(agents):
            raise ValueError("agent ids repeat")
        goal_tables = self.floor.distance_tables(a.goal for a in agents if a.goal is not None)
        tables = [None if a.goal is None else goal_tables[a.goal] for a in agents]
        switched = self._detour(agents, tables)
        self._track(agents, tables, switched)
        where = {agent.id: i for i, agent in enumerate(agents)}
        self._follow_plans(agents, where)
        if self.fallback:
            self._unstick(agents, tables, deadline=self.clock() + self.fallback_budget_s)
        paths = self._roll_out(agents, where, tables)
        elapsed = self.clock() - started
        self.stats.ticks += 1
        self.stats.steps_planned += self.horizon
        self.stats.plan_time_s += elapsed
        self.stats.last_plan_time_s = elapsed
        return {agent.id: path for agent, path in zip(agents, paths, strict=True)}

    def on_fallback_plans(self) -> frozenset[str]:
        """The agents following a fallback plan now."""
        return frozenset(agent_id for plan in self._plans for agent_id in plan.agents)

    def _blocked_key(self) -> tuple[frozenset[int], int]:
        """The blocked nodes and the edges' version; the floor less the blocked nodes is
        rebuilt when it changes."""
        key = (self.floor.blocked, self.floor.edges_version)
        if key != self._graph_key:
            self._graph_key = key
            self._detour_graph = detour.without(self.floor, key[0])
        return key

    def cut_off(self, node: int, goal: int) -> bool:
        """Whether the floor's blocked nodes (a failed AGV at a station's mouth, or on the
        goal itself) cut `goal` off from `node`, which the floor's tables do not know. Not
        from a node itself blocked, nor by closed edges: the tables tell those."""
        blocked = self.floor.blocked
        if not blocked or node in blocked:
            return False
        if goal in blocked:
            return True
        if self._components_key != self._blocked_key():
            self._components_key = self._blocked_key()
            self._components = detour.components(self._detour_graph, blocked)
        return self._components.item(node) != self._components.item(goal)

    def on_detours(self) -> frozenset[str]:
        """The agents going round blocked nodes now."""
        return frozenset(self._detouring)

    # -- detours round blocked nodes ------------------------------------------------------

    def _detour(self, agents: Sequence[AgentState], tables: list[Table | None]) -> set[str]:
        """Give each agent whose shortest way by its table runs through a blocked node a
        table round the blocked nodes, in `tables`; it keeps its detour until its goal
        changes. At most `detours_per_tick` tables are made a tick, those of the agents
        nearest a blocked node first: the others follow the floor's table a while longer.
        Returns the agents whose table changed since the last tick (their progress counts
        afresh)."""
        blocked = self.floor.blocked
        if not blocked:
            self._detouring, self._served = {}, {}
            self._detour_tables, self._old_detour_tables = {}, {}
            self._detour_key = None
            return set()
        if self._detour_key != self._blocked_key():
            self._detour_key = self._blocked_key()
            self._old_detour_tables = self._detour_tables or self._old_detour_tables
            self._detour_tables = {}
            around = list(blocked)
            open_floor = detour.without(self.floor, ())
            self._blocked_from = list(
                zip(around, detour.tables_on(open_floor, around), strict=True)
            )
        urgency: dict[int, float] = {}  # goal -> metres from its nearest agent to the blockage
        detouring: dict[str, int] = {}
        for agent, table in zip(agents, tables, strict=True):
            if table is None or agent.goal is None or agent.frozen:
                continue
            if self._detouring.get(agent.id) == agent.goal:
                detouring[agent.id] = agent.goal
                continue
            near = self._runs_through(agent.node, table)
            if near is not None:
                detouring[agent.id] = agent.goal
                urgency[agent.goal] = min(near, urgency.get(agent.goal, math.inf))
        self._detouring = detouring
        made = self._detour_tables
        needed = [g for g in dict.fromkeys(detouring.values()) if g not in made]
        # Goals with no table of an older key to serve meanwhile first, then the nearest.
        needed.sort(key=lambda g: (g in self._old_detour_tables, urgency.get(g, 0.0)))
        needed = needed[: self.detours_per_tick]
        made.update(zip(needed, detour.tables_on(self._detour_graph, needed), strict=True))
        self.stats.detour_tables += len(needed)
        in_use = set(detouring.values())
        self._detour_tables = {g: t for g, t in made.items() if g in in_use}
        old = self._old_detour_tables
        self._old_detour_tables = {g: t for g, t in old.items() if g in in_use and g not in made}
        served: dict[str, Table] = {}
        switched: set[str] = set()
        for i, agent in enumerate(agents):
            goal = detouring.get(agent.id)
            if goal is None:
                continue
            table = self._detour_tables.get(goal, self._old_detour_tables.get(goal))
            if table is None:
                continue  # its table on a later tick: the floor's until then
            tables[i] = served[agent.id] = table
            if self._served.get(agent.id) is not table:
                switched.add(agent.id)
        switched.update(agent_id for agent_id in self._served if agent_id not in served)
        self._served = served
        return switched

    def _runs_through(self, node: int, table: Table) -> float | None:
        """If a shortest way from `node` by `table` runs through a blocked node b (the
        distance from node to b plus b's to the goal is node's to the goal): the metres
        to the nearest such b. None if none does, or the goal is out of reach anyway."""
        to_goal = table.item(node)
        if math.isinf(to_goal):
            return None
        tolerance = PROGRESS_M + DETOUR_ULPS * to_goal
        nearest = None
        for b, from_b in self._blocked_from:
            if b == node:
                continue  # blocked under it (a spill): it may still drive off
            to_b = from_b.item(node)
            if abs(to_b + table.item(b) - to_goal) <= tolerance and (
                nearest is None or to_b < nearest
            ):
                nearest = to_b
        return nearest

    # -- priorities and progress ----------------------------------------------------------

    def _track(
        self, agents: Sequence[AgentState], tables: Sequence[Table | None], switched: set[str]
    ) -> None:
        known = self._progress
        self._progress = {}
        # Goals an agent can only wait for: held by a frozen agent, blocked, or held by an
        # agent that has the same goal and is there (the dispatcher sent two).
        unavailable = self.floor.blocked | {
            agent.node for agent in agents if agent.frozen or agent.node == agent.goal
        }
        # A closed edge can put an agent's goal farther away for good: progress is measured
        # afresh from where each agent stands once an edge closed or opened.
        edges_changed = self.floor.edges_version != self._edges_version
        self._edges_version = self.floor.edges_version
        for agent, table in zip(agents, tables, strict=True):
            distance = math.inf if table is None else table.item(agent.node)
            progress = known.get(agent.id)
            if progress is None or progress.goal != agent.goal:
                progress = _Progress(agent.goal, self._tie(agent.id), distance, best=distance)
            elif edges_changed or agent.id in switched:
                progress.best, progress.stalled = distance, 0
            self._progress[agent.id] = progress
            if agent.goal is None or agent.node == agent.goal:
                progress.elapsed, progress.stalled, progress.best = 0, 0, 0.0
                continue
            if math.isinf(distance):
                # Cut off from its goal: it waits like an agent with no goal, making way
                # when asked, and neither gains priority nor stalls meanwhile.
                progress.elapsed, progress.stalled = 0, 0
                continue
            progress.elapsed += 1
            if distance < progress.best:
                progress.best, progress.stalled = distance, 0
            elif agent.committed:
                pass  # on its way along its base: neither progress nor a stall yet
            elif agent.frozen or agent.goal in unavailable:
                # It cannot move, no plan can take it there, or its goal is not free yet.
                progress.stalled = 0
            else:
                progress.stalled += 1

    def _tie(self, agent_id: str) -> float:
        return random.Random(f"{self.seed}:{agent_id}").random()

    # -- fallback plans -------------------------------------------------------------------

    def _follow_plans(self, agents: Sequence[AgentState], where: dict[str, int]) -> None:
        """Advance each joint plan whose agents did as planned; drop the others."""
        occupant = {agent.node: agent.id for agent in agents}
        kept: list[_JointPlan] = []
        for plan in self._plans:
            members = [where.get(agent_id) for agent_id in plan.agents]
            if any(
                i is None
                or (agents[i].frozen and not agents[i].committed)
                or agents[i].goal != goal
                for i, goal in zip(members, plan.goals, strict=True)
            ):
                continue
            now = tuple(agents[i].node for i in members if i is not None)
            if now == plan.ahead(1):
                plan.at += 1
            elif not all(
                node in (before, after)
                for node, before, after in zip(now, plan.ahead(0), plan.ahead(1), strict=True)
            ):
                continue  # someone did not move as planned: the plan no longer holds
            # (Some at the step's end, some still at its start: they wait for each other.)
            if plan.at == len(plan.configurations) - 1:
                continue  # done
            if self._next_step_holds(plan, occupant):
                kept.append(plan)
        self._plans = kept

    def _next_step_holds(self, plan: _JointPlan, occupant: dict[int, str]) -> bool:
        """Nothing came in the way since the plan was made: no other agent on a node it
        still needs (a new one, say), no blocked node or closed edge on its next step."""
        own = set(plan.agents)
        if any(occupant.get(node, plan.agents[0]) not in own for node in plan.nodes_still_needed()):
            return False
        return all(
            there == here
            or (there not in self.floor.blocked and there in self.floor.adjacency[here])
            for here, there in zip(plan.ahead(0), plan.ahead(1), strict=True)
        )

    def _unstick(
        self, agents: Sequence[AgentState], tables: Sequence[Table | None], deadline: float
    ) -> None:
        """Run the fallback for stalled agents, highest priority first, while the tick's
        budget (time, and expansions if bounded) lasts."""
        tick = self.stats.ticks
        expansions_left = self.fallback_max_expansions
        busy = {agent_id for plan in self._plans for agent_id in plan.agents}
        stuck = [
            i
            for i, agent in enumerate(agents)
            if not agent.frozen
            and agent.id not in busy
            and self._progress[agent.id].stalled >= self.stall_steps
            and tick >= self._progress[agent.id].retry_at
        ]
        stuck.sort(key=lambda i: self._progress[agents[i].id].priority(), reverse=True)
        occupant = {agent.node: agent for agent in agents}
        for i in stuck:
            if agents[i].id in busy:
                continue
            if self._queues(agents[i], tables[i], occupant):
                self._progress[agents[i].id].stalled = 0
                continue
            members = self._neighbourhood(agents, i, busy)
            if self._traffic_flows(agents, members):
                continue  # slow traffic, not a knot: PIBT sorts it out
            targets = self._targets(agents, members, [tables[j] for j in members])
            if math.isinf(targets[0]):
                # It queues behind an agent of higher priority bound for the same goal.
                self._progress[agents[i].id].stalled = 0
                continue
            budget = deadline - self.clock()
            if budget <= 0 or (expansions_left is not None and expansions_left <= 0):
                return
            found, expansions = self._search(
                agents, members, tables, targets, budget, expansions_left
            )
            if expansions_left is not None:
                expansions_left -= expansions
            self.stats.fallback_invocations += 1
            if found is None:
                progress = self._progress[agents[i].id]
                progress.failures += 1
                progress.retry_at = tick + min(
                    MAX_BACKOFF_TICKS, self.stall_steps * 2**progress.failures
                )
                continue
            self.stats.fallback_successes += 1
            for j in members:
                progress = self._progress[agents[j].id]
                progress.stalled, progress.failures = 0, 0
            if len(found.configurations) > 1:
                self._plans.append(found)
                busy.update(found.agents)

    def _traffic_flows(self, agents: Sequence[AgentState], members: list[int]) -> bool:
        """Whether an agent around the stalled one got nearer its goal lately: then it is
        held up in traffic that moves, as at a busy station, rather than caught in a knot
        where nobody gets anywhere."""
        recently = self.stall_steps // 2
        for j in members[1:]:
            agent, progress = agents[j], self._progress[agents[j].id]
            if agent.goal is not None and agent.node != agent.goal and progress.stalled < recently:
                return True
        return False

    def _queues(
        self, agent: AgentState, table: Table | None, occupant: dict[int, AgentState]
    ) -> bool:
        """Its best way on is held by an agent bound for the same goal: it waits its turn
        (a station with a queue), and no search would do better."""
        if table is None:
            return False
        best = min(self.floor.adjacency[agent.node], key=table.item, default=None)
        ahead = None if best is None else occupant.get(best)
        return ahead is not None and ahead.goal == agent.goal

    def _neighbourhood(self, agents: Sequence[AgentState], seed: int, busy: set[str]) -> list[int]:
        """The stuck agent and the movable agents around it: breadth first from it, an agent
        joining when it is within `fallback_radius` hops of one that joined, nearest first."""
        occupant = {agent.node: i for i, agent in enumerate(agents)}
        blocked = self.floor.blocked
        members = [seed]
        slack = {agents[seed].node: self.fallback_radius}
        frontier = deque([agents[seed].node])
        while frontier and len(members) < self.fallback_max_agents:
            node = frontier.popleft()
            for v in self.floor.adjacency[node]:
                if v in blocked:
                    continue
                left = slack[node] - 1
                other = occupant.get(v)
                if other is not None:
                    if agents[other].frozen or agents[other].id in busy:
                        continue
                    if other not in members:
                        members.append(other)
                    left = self.fallback_radius
                if left >= 0 and left > slack.get(v, -1):
                    slack[v] = left
                    frontier.append(v)
        return members[: self.fallback_max_agents]

    def _search(
        self,
        agents: Sequence[AgentState],
        members: list[int],
        tables: Sequence[Table | None],
        targets: list[float],
        budget_s: float,
        max_expansions: int | None,
    ) -> tuple[_JointPlan | None, int]:
        member_set = set(members)
        obstacles = set(self.floor.blocked)
        obstacles.update(agent.node for j, agent in enumerate(agents) if j not in member_set)
        for plan in self._plans:
            obstacles |= plan.nodes_still_needed()
        result = lacam.search(
            self.floor,
            [agents[j].node for j in members],
            [tables[j] for j in members],
            targets,
            random.Random(self._rng.random()),
            obstacles=obstacles,
            budget_s=budget_s,
            max_expansions=max_expansions,
            clock=self.clock,
        )
        if result.configurations is None:
            return None, result.expansions
        plan = _JointPlan(
            tuple(agents[j].id for j in members),
            tuple(agents[j].goal for j in members),
            result.configurations,
        )
        return plan, result.expansions

    def _targets(
        self, agents: Sequence[AgentState], members: list[int], tables: list[Table | None]
    ) -> list[float]:
        """What the search must achieve, as distances to the members' goals:

        - a stalled member: nearer than it has ever been (or its goal, once it has been
          there). Not the goal itself: one hundreds of steps away would take the whole
          budget, and PIBT gets there once past the knot;
        - a member at its goal: still there at the end, so that fallbacks do not take turns
          pushing each other's finished agents off their goals;
        - anyone else: anywhere, which keeps the search easy;
        - a member whose goal one of higher priority shares: anywhere (both could never
          get there; the dispatcher sent two).
        """
        targets = [math.inf] * len(members)
        claimed: set[int] = set()
        by_priority = sorted(
            range(len(members)),
            key=lambda k: self._progress[agents[members[k]].id].priority(),
            reverse=True,
        )
        for k in by_priority:
            agent, progress = agents[members[k]], self._progress[agents[members[k]].id]
            if agent.goal is None or tables[k] is None or agent.goal in claimed:
                continue
            claimed.add(agent.goal)
            if progress.stalled >= self.stall_steps:
                targets[k] = max(0.0, progress.best - PROGRESS_M)
            elif agent.node == agent.goal:
                targets[k] = 0.0
        return targets

    # -- the forecast ---------------------------------------------------------------------

    def _roll_out(
        self,
        agents: Sequence[AgentState],
        where: dict[str, int],
        tables: Sequence[Table | None],
    ) -> list[list[int]]:
        """PIBT forward `horizon` steps; joint plans' agents and frozen agents fixed."""
        positions = [agent.node for agent in agents]
        progress = [self._progress[agent.id] for agent in agents]
        elapsed = [p.elapsed for p in progress]
        # The tie-breaks below `elapsed`, folded into a fraction: each step sorts on a float.
        tied = sorted(range(len(agents)), key=lambda i: progress[i].priority()[1:])
        fraction = [0.0] * len(agents)
        for rank, i in enumerate(tied):
            fraction[i] = rank / len(agents)
        frozen = [i for i, agent in enumerate(agents) if agent.frozen]
        planned = [(plan, [where[agent_id] for agent_id in plan.agents]) for plan in self._plans]
        keep_out: set[int] = set().union(*(plan.nodes_still_needed() for plan in self._plans))
        blocked = self.floor.blocked
        movable = set(range(len(agents))) - set(frozen)
        movable -= {i for _, members in planned for i in members}
        paths: list[list[int]] = [[] for _ in agents]
        for step in range(1, self.horizon + 1):
            fixed = {i: positions[i] for i in frozen}
            for plan, members in planned:
                fixed.update(zip(members, plan.ahead(step), strict=True))
            priority = [e + f for e, f in zip(elapsed, fraction, strict=True)]
            moves = pibt.step(
                self.floor,
                positions,
                sorted(movable, key=lambda i: (not agents[i].yields, priority[i]), reverse=True),
                tables,
                self._rng,
                obstacles=blocked,
                fixed=fixed,
                keep_out=keep_out,
            )
            if moves is None:
                if step == 1:
                    raise RuntimeError("fallback plans and frozen agents conflict")
                moves = pibt.Moves(positions, [])  # cannot happen once step 1 held
            for aside, other in moves.yielded:
                # The swap: from now on the other goes first, until it reaches its goal.
                elapsed[other] = max(elapsed[other], elapsed[aside] + 1)
                if step == 1:
                    progress[other].elapsed = max(
                        progress[other].elapsed, progress[aside].elapsed + 1
                    )
            positions = moves.next
            for i, agent in enumerate(agents):
                paths[i].append(positions[i])
                table, node = tables[i], positions[i]
                # At its goal, or with none to reach (no goal, or cut off from it).
                idle = table is None or node == agent.goal or math.isinf(table.item(node))
                elapsed[i] = 0 if idle else elapsed[i] + 1
        return paths
