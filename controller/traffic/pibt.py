"""One joint step of PIBT (Priority Inheritance with Backtracking, Okumura et al. 2022),
adapted to the safety kernel's rule that an AGV may not enter a node another AGV occupies
at the start of the step ("no following": the kernel frees a node only once the AGV's state
shows it has left).

Classic PIBT lets an agent step into a node whose occupant it pushes away in the same
step. Here that is not allowed, so a push becomes a request to vacate:

- Agents are taken in priority order. Each ranks its candidates (its neighbours and its own
  node) by distance to its goal; among equals, free nodes first, then a seeded random draw.
- A free candidate nobody has claimed: the agent moves there.
- A candidate whose occupant already decided to leave: the agent waits where it is; the
  node is free next step, and the agent, still the higher priority, takes it then.
- A candidate whose occupant has not decided: the occupant inherits the priority and must
  vacate, ranking its own neighbours the same way but never staying. If it moves, or
  waits behind an agent that moves (a chain of requests ending at a free node), the
  requester waits one step, keeping its priority. If it cannot, it stays, and the
  requester tries its next candidate.
- An agent's own node is always a candidate unless it is being asked to vacate, so a
  top-level agent always ends with a decision.
- Swap: if the occupant of a top-level agent's best candidate cannot vacate and its own
  best move is into that agent's node (it is in a dead end, such as a station pocket, and
  wants out through the agent), waiting would be a deadlock. The agent steps aside to
  its best free node instead and hands its priority over (`Moves.yielded`; the planner
  ranks the other above it from then on), so that the other comes out first.

Nobody enters a node occupied at the start of the step, so there are no vertex conflicts
and no swaps or rotations; a platoon advances with a gap, one node every other step, which
is what the kernel's release rule allows anyway. The price is PIBT's guarantee that the top
agent reaches its goal: a request to vacate can be refused for ever in a dead end, which
is what the LaCAM fallback (`lacam.py`) is for.

No graph search per agent: one lookup in the goal's distance table per candidate.
"""

from __future__ import annotations

import math
import random
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from controller.traffic.floor import CompiledFloor, Table

UNDECIDED = -1
# From this many agents a step ranks moves in numpy: its fixed cost (masks over the whole
# floor) is ~0.3 ms on a 42k-node floor, Python's ~10 µs per agent.
VECTORISE_FROM = 48


def step(
    floor: CompiledFloor,
    positions: Sequence[int],
    order: Iterable[int],
    tables: Sequence[Table | None],
    rng: random.Random,
    *,
    obstacles: Collection[int] = frozenset(),
    fixed: Mapping[int, int] | None = None,
    keep_out: Collection[int] = frozenset(),
) -> Moves | None:
    """Each agent's node after one step. Agents are indices into `positions`.

    - `order`: the agents to plan, highest priority first.
    - `tables[i]`: agent i's distance table to its goal, or None for an agent with no goal
      (it stays unless asked to vacate). An agent whose goal is unreachable is the same.
      Such idle agents are decided after all the others, so any of them may be asked.
    - `obstacles`: nodes nobody enters (blocked nodes, agents outside the problem).
    - `fixed`: agents whose next node is already decided (a frozen agent stays; a fallback
      plan's move; LaCAM's constraints). They are never asked to vacate. None is returned
      when these moves break the rules themselves.
    - `keep_out`: nodes the other agents may not enter (promised to fallback plans).
    """
    search = _Step(floor, positions, tables, obstacles)
    if fixed and not search.fix(fixed):
        return None
    search.rank([a for a, v in enumerate(search.next) if v == UNDECIDED], keep_out, rng)
    # Idle agents last, whatever their priority: one taken first would settle on staying
    # before anyone could ask it to make way, and block an aisle for everyone behind it.
    ordered = list(order)
    idle = search.idle
    for agent in (*(a for a in ordered if a not in idle), *(a for a in ordered if a in idle)):
        if search.next[agent] == UNDECIDED and not search.take_first(agent):
            search.plan(agent)
    return Moves(search.next, search.yielded)


@dataclass(frozen=True, slots=True)
class Moves:
    """One step's outcome."""

    next: list[int]  # each agent's node after the step
    yielded: list[tuple[int, int]]  # (agent, the agent it stepped aside for)


@dataclass(slots=True)
class _Frame:
    """One agent of a chain of requests: its candidates and the next one to try."""

    agent: int
    candidates: list[int]
    cursor: int = 0
    pushed: int = UNDECIDED  # the occupant last asked to vacate


class _Step:
    """The state of one step's search: who is where, who goes where."""

    def __init__(
        self,
        floor: CompiledFloor,
        positions: Sequence[int],
        tables: Sequence[Table | None],
        obstacles: Collection[int],
    ) -> None:
        self.floor = floor
        self.positions = positions
        self.tables = tables
        self.obstacles = obstacles
        self.occupant = {node: agent for agent, node in enumerate(positions)}
        if len(self.occupant) != len(positions):
            raise ValueError("two agents on one node")
        self.next = [UNDECIDED] * len(positions)
        self.claimed: dict[int, int] = {}  # node -> the agent that will be on it
        self.asked: set[int] = set()  # the agents of the current chain of requests
        self.ranked: dict[int, list[int]] = {}  # agent -> its allowed moves, best first
        self.idle: set[int] = set()  # agents with no (reachable) goal
        self.yielded: list[tuple[int, int]] = []

    def fix(self, moves: Mapping[int, int]) -> bool:
        for agent, target in moves.items():
            here = self.positions[agent]
            if target in self.claimed:
                return False
            if target != here and (
                target not in self.floor.adjacency[here]
                or target in self.obstacles
                or target in self.occupant
            ):
                return False
            self._decide(agent, target)
        return True

    def rank(self, agents: list[int], keep_out: Collection[int], rng: random.Random) -> None:
        """Rank each agent's moves: nearest its goal first, then free before occupied, then
        a seeded random draw (an idle agent: all moves equally near). Moves into obstacles
        or kept-out nodes are left out; staying is always allowed."""
        if len(agents) < VECTORISE_FROM:
            self._rank_each(agents, keep_out, rng)
        else:
            self._rank_all(agents, keep_out, rng)

    def _rank_each(self, agents: list[int], keep_out: Collection[int], rng: random.Random) -> None:
        occupant, obstacles = self.occupant, self.obstacles
        for agent in agents:
            here = self.positions[agent]
            moves = [
                v for v in self.floor.adjacency[here] if v not in obstacles and v not in keep_out
            ]
            moves.append(here)
            table = self.tables[agent]
            if table is None or math.isinf(table.item(here)):
                self.idle.add(agent)
                table = None  # every move equally near
            keyed = sorted(
                (
                    0.0 if table is None else table.item(v),
                    v != here and v in occupant,
                    rng.random(),
                    v,
                )
                for v in moves
            )
            self.ranked[agent] = [key[-1] for key in keyed]

    def _rank_all(self, agents: list[int], keep_out: Collection[int], rng: random.Random) -> None:
        """The same ranking in numpy, one array row per agent, the last column staying."""
        n = self.floor.node_count
        here = np.array([self.positions[a] for a in agents], dtype=np.int64)
        neighbours = self.floor.neighbour_matrix[here]
        moves = np.concatenate([neighbours, here[:, None]], axis=1)
        excluded = np.zeros(n + 1, dtype=bool)  # the extra last cell: the padding's -1
        excluded[-1] = True
        for nodes in (self.obstacles, keep_out):
            if nodes:
                excluded[np.fromiter(nodes, dtype=np.int64, count=len(nodes))] = True
        allowed = ~excluded[moves]
        allowed[:, -1] = True
        distance = np.zeros(moves.shape)
        groups: dict[int, tuple[Table, list[int]]] = {}
        for row, agent in enumerate(agents):
            table = self.tables[agent]
            if table is not None:
                groups.setdefault(id(table), (table, []))[1].append(row)
        for table, rows in groups.values():
            distance[rows] = table[moves[rows]]
        idle = ~np.isfinite(distance[:, -1])
        for row, agent in enumerate(agents):
            if self.tables[agent] is None:
                idle[row] = True
        distance[idle] = 0.0
        distance[~allowed] = math.inf
        occupied = np.zeros(n + 1, dtype=bool)
        occupied[np.asarray(self.positions, dtype=np.int64)] = True
        taken = occupied[moves]
        taken[:, -1] = False
        noise = np.random.default_rng(rng.getrandbits(64)).random(moves.shape)
        best_first = np.lexsort((noise, taken, distance), axis=-1)
        ranked = np.take_along_axis(moves, best_first, axis=-1).tolist()
        counts = allowed.sum(axis=1).tolist()
        for agent, row, count, is_idle in zip(agents, ranked, counts, idle.tolist(), strict=True):
            self.ranked[agent] = row[:count]
            if is_idle:
                self.idle.add(agent)

    def candidates(self, agent: int, *, vacate: bool) -> list[int]:
        """What the agent tries, in order. An agent asked to vacate may not stay; an idle
        agent not asked to stays."""
        here = self.positions[agent]
        if vacate:
            return [v for v in self.ranked[agent] if v != here]
        return [here] if agent in self.idle else self.ranked[agent]

    def take_first(self, agent: int) -> bool:
        """The common case without the search: the best candidate is staying or free."""
        here = self.positions[agent]
        best = self.candidates(agent, vacate=False)[0]
        if best == here or (best not in self.claimed and best not in self.occupant):
            self._decide(agent, best)
            return True
        return False

    def plan(self, root: int) -> None:
        """Decide `root` and everyone its requests reach. Iterative: a chain of requests
        can be as long as the fleet."""
        frames = [_Frame(root, self.candidates(root, vacate=False))]
        self.asked.add(root)
        answer: bool | None = None  # what the frame just closed said: True = making way
        while frames:
            frame = frames[-1]
            here = self.positions[frame.agent]
            if answer:  # the occupant of the last candidate is making way: wait for it
                self._decide(frame.agent, here)
                self.asked.discard(frames.pop().agent)
                continue
            if answer is False and len(frames) == 1 and self._step_aside(frame):
                return
            answer, pushed = None, None
            while frame.cursor < len(frame.candidates):
                target = frame.candidates[frame.cursor]
                frame.cursor += 1
                if target == here:
                    self._decide(frame.agent, here)
                    answer = True
                    break
                if target in self.claimed:
                    continue
                occupant = self.occupant.get(target)
                if occupant is None:
                    self._decide(frame.agent, target)
                    answer = True
                    break
                if self.next[occupant] != UNDECIDED:
                    # Decided, and the node is not claimed: the occupant is leaving it.
                    self._decide(frame.agent, here)
                    answer = True
                    break
                if occupant not in self.asked:
                    pushed = occupant
                    break
            if pushed is not None:
                frame.pushed = pushed
                self.asked.add(pushed)
                frames.append(_Frame(pushed, self.candidates(pushed, vacate=True)))
                continue
            if answer is None:  # asked to vacate and could not: it stays
                self._decide(frame.agent, here)
                answer = False
            self.asked.discard(frames.pop().agent)

    def _step_aside(self, frame: _Frame) -> bool:
        """The swap: the occupant that could not vacate wants out through this agent (its
        best move, staying included, is this agent's node; an idle one wants nothing)."""
        here, other = self.positions[frame.agent], frame.pushed
        if other in self.idle or self.ranked[other][0] != here:
            return False
        for target in frame.candidates:
            if target != here and target not in self.claimed and target not in self.occupant:
                self._decide(frame.agent, target)
                self.yielded.append((frame.agent, other))
                self.asked.discard(frame.agent)
                return True
        return False

    def _decide(self, agent: int, target: int) -> None:
        self.next[agent] = target
        self.claimed[target] = agent
