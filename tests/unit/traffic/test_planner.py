"""MotionPlanner: what the control loop gets each tick, and a long run of a busy floor where
goals change, agents freeze and fail, and aisles close and reopen."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from controller.traffic.planner import AgentState, MotionPlanner
from tests.unit.traffic.drive import assert_legal_step, drive
from tests.unit.traffic.grids import grid, open_picture, random_picture


def test_each_agent_gets_a_path_of_the_horizon() -> None:
    g = grid(open_picture(8, 3))
    planner = MotionPlanner(g.floor, horizon=4)
    agents = [
        AgentState("moving", g.at(1, 0), g.at(1, 7)),
        AgentState("idle", g.at(0, 3)),
        AgentState("picking", g.at(2, 3), g.at(2, 7), frozen=True),
    ]
    paths = planner.plan(agents)
    assert paths["moving"] == [g.at(1, c) for c in (1, 2, 3, 4)]
    assert paths["idle"] == [g.at(0, 3)] * 4
    assert paths["picking"] == [g.at(2, 3)] * 4
    assert planner.stats.ticks == 1
    assert planner.stats.steps_planned == 4
    assert planner.stats.plan_time_s == planner.stats.last_plan_time_s > 0


def test_an_agent_at_its_goal_stays_and_makes_way_when_asked() -> None:
    g = grid(
        """
        A.B.
        ##.#
        """
    )
    planner = MotionPlanner(g.floor)
    agents = [AgentState("parked", g["B"], g["B"]), AgentState("through", g["A"], g.at(0, 3))]
    trail = []
    for _ in range(8):
        paths = planner.plan(agents)
        agents = [replace(a, node=paths[a.id][0]) for a in agents]
        trail.append(agents[0].node)
    assert agents[1].node == g.at(0, 3)
    assert agents[0].node == g["B"]  # back where it belongs
    assert set(trail) != {g["B"]}  # it did step aside


def test_the_agent_that_has_waited_longer_goes_first() -> None:
    """Two agents reach a crossing at once; the one that has been on its way longer (its
    priority grew every tick) takes the crossing, the other waits."""
    g = grid(
        """
        ###.###
        ###.###
        .......
        ###.###
        """
    )
    planner = MotionPlanner(g.floor, seed=1)
    long_way = AgentState("long", g.at(2, 0), g.at(3, 3))
    short_way = AgentState("short", g.at(0, 3), g.at(2, 6))
    planner.plan([long_way])  # on its way one tick earlier
    agents = [replace(long_way, node=g.at(2, 1)), short_way]
    for _ in range(2):
        paths = planner.plan(agents)
        agents = [replace(a, node=paths[a.id][0]) for a in agents]
    assert agents[0].node == g.at(2, 3)  # "long" holds the crossing
    assert agents[1].node == g.at(1, 3)  # "short" waits before it


@pytest.mark.parametrize(
    ("agents", "problem"),
    [
        ([AgentState("a", 0), AgentState("a", 1)], "ids repeat"),
        ([AgentState("a", 0), AgentState("b", 0)], "one node"),
    ],
)
def test_impossible_states_are_refused(agents: list[AgentState], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        MotionPlanner(grid("...").floor).plan(agents)


@pytest.mark.parametrize("seed", range(3))
def test_a_busy_floor_keeps_the_kernel_rules_for_hundreds_of_ticks(seed: int) -> None:
    """60 agents on a 24 x 16 random floor for 200 ticks: each arriving agent stands still
    (frozen) a few ticks, then gets a new goal; now and then an agent fails for a while
    (frozen, its node blocked) and an edge closes or reopens. Every tick's first steps
    keep the kernel's rules, and the fleet keeps delivering."""
    rng = random.Random(seed)
    g = grid(random_picture(24, 16, 0.12, seed))
    floor = g.floor
    components = [
        [v for v in range(floor.node_count) if floor.distances_to(source)[v] < float("inf")]
        for source in rng.sample(range(floor.node_count), 5)
    ]
    reachable = max(components, key=len)  # the floor's main part
    agents = [
        AgentState(f"a{k}", node, rng.choice(reachable))
        for k, node in enumerate(rng.sample(reachable, 60))
    ]
    planner = MotionPlanner(
        floor,
        seed=seed,
        stall_steps=10,
        fallback_budget_s=float("inf"),
        fallback_max_expansions=100,
    )
    dwell: dict[str, int] = {}
    closed: list[tuple[int, int]] = []
    arrivals = 0
    for tick in range(200):
        paths = planner.plan(agents)
        moved = [paths[a.id][0] for a in agents]
        frozen = {i for i, a in enumerate(agents) if a.frozen}
        assert_legal_step(floor, [a.node for a in agents], moved, frozen=frozen)
        agents = [replace(a, node=v) for a, v in zip(agents, moved, strict=True)]
        for i, agent in enumerate(agents):
            if agent.id in dwell:
                dwell[agent.id] -= 1
                if dwell[agent.id] == 0:
                    del dwell[agent.id]
                    floor.unblock_node(agent.node)
                    agents[i] = replace(agent, goal=rng.choice(reachable), frozen=False)
            elif agent.node == agent.goal:
                arrivals += 1
                dwell[agent.id] = rng.randint(1, 4)
                agents[i] = replace(agent, frozen=True)
            elif rng.random() < 0.002:  # fails for a while where it stands
                dwell[agent.id] = rng.randint(10, 40)
                floor.block_node(agent.node)
                agents[i] = replace(agent, frozen=True)
        if tick % 25 == 0:
            if closed and rng.random() < 0.5:
                floor.open_edge(*closed.pop())
            else:
                a = rng.choice(reachable)
                if floor.adjacency[a]:
                    closed.append((a, rng.choice(floor.adjacency[a])))
                    floor.close_edge(*closed[-1])
    assert arrivals > 40


def test_an_agent_whose_goal_is_cut_off_makes_way_in_a_corridor() -> None:
    """`stuck`'s goal Z is behind a closed edge; it stands in the corridor between `through`
    and its goal. However long it has been on its way, it is pushed along like an agent
    with no goal, and never counts as making progress towards nothing."""
    g = grid(
        """
        A..X..G..
        ########Z
        """
    )
    g.floor.close_edge(g.at(0, 8), g["Z"])
    planner = MotionPlanner(g.floor, seed=0, stall_steps=2)
    stuck = AgentState("stuck", g["X"], g["Z"])
    for _ in range(5):  # on its way a while: by priority it would go first
        planner.plan([stuck])
    agents = [stuck, AgentState("through", g["A"], g["G"])]
    run = drive(planner, agents, max_ticks=30)
    assert run.agents[1].node == g["G"]
    assert run.agents[0].node in (g.at(0, 7), g.at(0, 8))  # pushed on, past the goal
    assert planner.stats.fallback_invocations == 0  # never stalled: it has nowhere to go
