"""One PIBT step under the kernel's rules: no vertex conflict, no swap, no entering a node
occupied at the start of the step, obstacles and frozen agents respected."""

from __future__ import annotations

import random

import pytest

from controller.traffic import pibt
from controller.traffic.floor import Table
from controller.traffic.planner import AgentState, MotionPlanner
from tests.unit.traffic.drive import assert_legal_step, drive
from tests.unit.traffic.grids import grid, open_picture, random_picture


@pytest.mark.parametrize(
    ("agents", "seed"),
    [(300, seed) for seed in range(12)] + [(30, seed) for seed in range(12)],
)
def test_random_configurations_keep_the_kernel_rules(agents: int, seed: int) -> None:
    """Hundreds of agents (ranked in numpy) and a few dozen (ranked in Python) on a random
    grid, a tenth of them frozen, some nodes blocked, some agents with no goal, for 15
    steps each."""
    rng = random.Random(seed)
    g = grid(random_picture(40, 30, 0.15, seed))
    floor = g.floor
    nodes = list(range(floor.node_count))
    positions = rng.sample(nodes, agents)
    for node in rng.sample(nodes, 25):
        floor.block_node(node)
    frozen = set(rng.sample(range(agents), agents // 10))
    promised = set(rng.sample(nodes, 25))  # kept out: as if a fallback plan needed them
    goals = [rng.choice(nodes) if rng.random() < 0.9 else None for _ in range(agents)]
    tables: list[Table | None] = [None if x is None else floor.distances_to(x) for x in goals]
    for _ in range(15):
        order = rng.sample([i for i in range(agents) if i not in frozen], agents - len(frozen))
        moves = pibt.step(
            floor,
            positions,
            order,
            tables,
            rng,
            obstacles=floor.blocked,
            fixed={i: positions[i] for i in frozen},
            keep_out=promised,
        )
        assert moves is not None
        assert pibt.UNDECIDED not in moves.next
        assert_legal_step(floor, positions, moves.next, frozen=frozen)
        assert all(
            there == here or there not in promised
            for here, there in zip(positions, moves.next, strict=True)
        )
        positions = moves.next


def test_an_agent_boxed_in_by_kept_out_nodes_and_obstacles_cannot_be_made_to_vacate() -> None:
    g = grid(
        """
        .x..
        A1yG
        """
    )
    floor = g.floor
    tables = [floor.distances_to(g["G"]), None]
    moves = pibt.step(
        floor,
        [g["A"], g["1"]],
        [0, 1],
        tables,
        random.Random(1),
        obstacles={g["x"]},
        keep_out={g["y"]},
    )
    assert moves is not None
    assert moves.next == [g["A"], g["1"]]  # A's only other move is away from its goal


@pytest.mark.parametrize(
    ("fixed", "why"),
    [
        ({0: "B"}, "into a node occupied now"),
        ({0: "a", 1: "a"}, "two agents into one node"),
        ({0: "c"}, "not a neighbour"),
        ({0: "x"}, "into an obstacle"),
    ],
)
def test_fixed_moves_that_break_the_rules_are_refused(fixed: dict[int, str], why: str) -> None:
    g = grid(
        """
        Aa..
        xBbc
        """
    )
    floor = g.floor
    moves = pibt.step(
        floor,
        [g["A"], g["B"]],
        [0, 1],
        [None, None],
        random.Random(0),
        obstacles={g["x"]},
        fixed={agent: g[label] for agent, label in fixed.items()},
    )
    assert moves is None, why


def test_an_agent_asked_to_vacate_moves_off_and_the_asker_waits() -> None:
    g = grid("A1...G")
    floor = g.floor
    positions = [g["A"], g["1"]]
    tables = [floor.distances_to(g["G"]), None]  # the second agent is idle
    moves = pibt.step(floor, positions, [0, 1], tables, random.Random(0))
    assert moves is not None
    assert moves.next == [g["A"], g.at(0, 2)]  # no following: A enters next step


def test_a_platoon_moves_its_head_first() -> None:
    g = grid("4321....G")
    floor = g.floor
    positions = [g[label] for label in "1234"]
    goal = floor.distances_to(g["G"])
    moves = pibt.step(floor, positions, [3, 2, 1, 0], [goal] * 4, random.Random(0))
    assert moves is not None
    assert moves.next == [g.at(0, 4), g["2"], g["3"], g["4"]]


def test_idle_agents_stay_unless_asked_to_vacate() -> None:
    g = grid(
        """
        1...
        ..2.
        """
    )
    moves = pibt.step(g.floor, [g["1"], g["2"]], [0, 1], [None, None], random.Random(0))
    assert moves is not None
    assert moves.next == [g["1"], g["2"]]


def test_an_agent_at_a_pocket_mouth_steps_aside_for_the_one_inside() -> None:
    """The station pocket P holds an agent bound for G; the agent at the mouth M is bound
    for P and ranks higher. Waiting would be a deadlock: it steps aside and hands over."""
    g = grid(
        """
        #P##
        .M.G
        """
    )
    floor = g.floor
    inside, outside = 0, 1
    tables = [floor.distances_to(g["G"]), floor.distances_to(g["P"])]
    moves = pibt.step(floor, [g["P"], g["M"]], [outside, inside], tables, random.Random(0))
    assert moves is not None
    assert moves.next[inside] == g["P"]
    assert moves.next[outside] in (g.at(1, 0), g.at(1, 2))
    assert moves.yielded == [(outside, inside)]


def test_every_agent_reaches_its_goal_on_an_open_grid() -> None:
    """PIBT alone (no fallback): 80 agents criss-crossing a 20 x 20 floor."""
    rng = random.Random(4)
    g = grid(open_picture(20, 20))
    nodes = list(range(g.floor.node_count))
    starts, goals = rng.sample(nodes, 80), rng.sample(nodes, 80)
    agents = [AgentState(f"a{k}", s, t) for k, (s, t) in enumerate(zip(starts, goals, strict=True))]
    planner = MotionPlanner(g.floor, seed=4, fallback=False)
    run = drive(planner, agents, max_ticks=150)
    assert run.all_at_goal()
    assert planner.stats.fallback_invocations == 0


def test_an_idle_agent_ranked_first_is_still_asked_to_vacate() -> None:
    """Priority order puts the idle agent first; it is decided last all the same, so the
    agent behind it can ask it to make way instead of waiting behind it for ever."""
    g = grid("A1...G")
    floor = g.floor
    positions = [g["A"], g["1"]]
    tables = [floor.distances_to(g["G"]), None]
    moves = pibt.step(floor, positions, [1, 0], tables, random.Random(0))
    assert moves is not None
    assert moves.next == [g["A"], g.at(0, 2)]
