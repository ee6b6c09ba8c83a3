"""Drive a `MotionPlanner` as the control loop will: each tick every agent takes the first
step of its path, and each step is checked against the kernel's rules."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace

from controller.traffic.floor import CompiledFloor
from controller.traffic.planner import AgentState, MotionPlanner


def assert_legal_step(
    floor: CompiledFloor,
    positions: Sequence[int],
    moved: Sequence[int],
    *,
    frozen: Collection[int] = (),
) -> None:
    """One joint step keeps the kernel's rules: one edge at most, no two agents on a node,
    no agent entering a node occupied before the step (so no swaps either), no blocked
    node entered, frozen agents (by index) in place."""
    occupied = set(positions)
    assert len(set(moved)) == len(moved), "vertex conflict"
    for i, (here, there) in enumerate(zip(positions, moved, strict=True)):
        if i in frozen:
            assert there == here, f"frozen agent {i} moved"
        if there == here:
            continue
        assert there in floor.adjacency[here], f"agent {i} jumped {here}->{there}"
        assert there not in occupied, f"agent {i} followed into {there}"
        assert there not in floor.blocked, f"agent {i} entered blocked {there}"


@dataclass
class Run:
    ticks: int
    agents: list[AgentState]
    trails: dict[str, list[int]]

    def all_at_goal(self) -> bool:
        return all(a.goal is None or a.node == a.goal for a in self.agents)


def drive(
    planner: MotionPlanner,
    agents: Sequence[AgentState],
    max_ticks: int,
) -> Run:
    """Tick until every agent is at its goal (or `max_ticks`), checking every step."""
    current = list(agents)
    trails = {a.id: [a.node] for a in agents}
    for tick in range(1, max_ticks + 1):
        paths = planner.plan(current)
        assert all(len(paths[a.id]) == planner.horizon for a in current)
        moved = [paths[a.id][0] for a in current]
        assert_legal_step(
            planner.floor,
            [a.node for a in current],
            moved,
            frozen={i for i, a in enumerate(current) if a.frozen},
        )
        current = [replace(a, node=v) for a, v in zip(current, moved, strict=True)]
        for a in current:
            trails[a.id].append(a.node)
        if all(a.goal is None or a.node == a.goal for a in current):
            return Run(tick, current, trails)
    return Run(max_ticks, current, trails)
