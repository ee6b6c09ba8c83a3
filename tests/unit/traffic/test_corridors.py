"""Narrow places where naive planners deadlock: every agent still gets to its goal, with
the LaCAM fallback where PIBT alone would not. Searches are bounded by count, not time."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from controller.traffic.planner import AgentState, MotionPlanner
from tests.unit.traffic.drive import drive
from tests.unit.traffic.grids import Grid, grid

EXPANSIONS = 20_000  # per search: ample for these, and deterministic


def planner(g: Grid, seed: int, *, fallback: bool = True) -> MotionPlanner:
    return MotionPlanner(
        g.floor,
        seed=seed,
        stall_steps=6,
        fallback=fallback,
        fallback_budget_s=float("inf"),
        fallback_max_expansions=EXPANSIONS,
    )


POCKET = grid(
    """
    #####P####
    A........B
    ##########
    """
)


@pytest.mark.parametrize("seed", range(4))
def test_two_agents_meeting_head_on_in_a_corridor_pass_at_the_side_pocket(seed: int) -> None:
    agents = [AgentState("a", POCKET["A"], POCKET["B"]), AgentState("b", POCKET["B"], POCKET["A"])]
    run = drive(planner(POCKET, seed), agents, max_ticks=60)
    assert run.all_at_goal()
    assert POCKET["P"] in run.trails["a"] + run.trails["b"]


# A ring with three single-cell bays; seven agents, every other one going the other way.
RING = grid(
    """
    ###.###.###
    #.........#
    #.#######.#
    #.........#
    #####.#####
    """
)
RING_CELLS = (
    [(1, c) for c in range(1, 10)] + [(2, 9)] + [(3, c) for c in range(9, 0, -1)] + [(2, 1)]
)


def ring_agents() -> list[AgentState]:
    cells = [RING.at(r, c) for r, c in RING_CELLS]
    agents = []
    for k, i in enumerate(range(0, len(cells), 3)):
        turn = 5 if k % 2 == 0 else -3  # clockwise five cells, or back three
        agents.append(AgentState(f"r{k}", cells[i], cells[(i + turn) % len(cells)]))
    assert len({a.goal for a in agents}) == len(agents)
    return agents


def test_pibt_alone_does_not_untangle_the_ring() -> None:
    run = drive(planner(RING, 0, fallback=False), ring_agents(), max_ticks=200)
    assert not run.all_at_goal()


@pytest.mark.parametrize("seed", range(3))
def test_a_ring_corridor_of_agents_going_opposite_ways_untangles(seed: int) -> None:
    plans = planner(RING, seed)
    run = drive(plans, ring_agents(), max_ticks=200)
    assert run.all_at_goal()
    assert plans.stats.fallback_successes >= 1


DEAD_END = grid(
    """
    .......
    ...#...
    ##d####
    ##1####
    ##2####
    ##3####
    """
)


def test_an_agent_leaves_a_dead_end_past_one_going_in_by_pibt_alone() -> None:
    """The one going in steps back out of the way (PIBT's swap), no search needed."""
    agents = [
        AgentState("in", DEAD_END["2"], DEAD_END["3"]),
        AgentState("out", DEAD_END["3"], DEAD_END.at(0, 0)),
    ]
    run = drive(planner(DEAD_END, 0, fallback=False), agents, max_ticks=40)
    assert run.all_at_goal()


def three_reversing() -> list[AgentState]:
    return [
        AgentState("top", DEAD_END["1"], DEAD_END["3"]),
        AgentState("middle", DEAD_END["2"], DEAD_END["d"]),
        AgentState("bottom", DEAD_END["3"], DEAD_END["1"]),
    ]


def test_pibt_alone_cannot_reverse_three_agents_in_a_dead_end() -> None:
    run = drive(planner(DEAD_END, 0, fallback=False), three_reversing(), max_ticks=200)
    assert not run.all_at_goal()


@pytest.mark.parametrize("seed", [0, 3])
def test_three_agents_reverse_their_order_in_a_dead_end_with_the_fallback(seed: int) -> None:
    plans = planner(DEAD_END, seed)
    run = drive(plans, three_reversing(), max_ticks=200)
    assert run.all_at_goal()
    assert plans.stats.fallback_successes >= 1


# -- closed aisles and failed agents ----------------------------------------------------------

AISLES = """
    .........
    .#######.
    S...m...G
    .#######.
    .........
    """


def test_agents_route_around_a_closed_aisle() -> None:
    g = grid(AISLES)
    first, second = g.at(2, 3), g["m"]
    g.floor.close_edge(first, second)
    agents = [
        AgentState("a", g["S"], g["G"]),
        AgentState("b", g.at(2, 1), g.at(2, 7)),
    ]
    plans = planner(g, 0)
    run = drive(plans, agents, max_ticks=60)
    assert run.all_at_goal()
    for trail in run.trails.values():
        assert all({u, v} != {first, second} for u, v in itertools.pairwise(trail))
    assert run.ticks <= 20  # round the top: 12 and 14 edges, not a wait at the closure
    assert plans.stats.fallback_invocations == 0  # the tables know the aisle is closed


@pytest.mark.parametrize("blocked", [True, False], ids=["blocked node", "frozen only"])
def test_agents_route_around_a_failed_agent_in_an_aisle(blocked: bool) -> None:
    g = grid(AISLES)
    if blocked:
        g.floor.block_node(g["m"])
    agents = [
        AgentState("failed", g["m"], None, frozen=True),
        AgentState("a", g["S"], g["G"]),
        AgentState("b", g.at(2, 1), g.at(2, 6)),
    ]
    plans = planner(g, 0)
    run = drive(plans, agents, max_ticks=120)
    assert run.all_at_goal()
    assert run.agents[0].node == g["m"]
    if blocked:
        # A blocked node is known: both turn round by a detour table, without a search.
        assert plans.stats.fallback_invocations == 0
        assert plans.stats.detour_tables == 2  # one per goal
        assert run.ticks <= 20
    else:
        assert plans.stats.fallback_successes >= 1  # the tables still run through the aisle


def test_a_detour_starts_on_the_next_tick_and_no_cached_table_changes() -> None:
    """An agent on its way along the middle aisle; the node ahead of it is blocked (an
    AGV failed there). On the very next tick it turns round, and the floor's own table
    of its goal is the same array as before."""
    g = grid(AISLES)
    plans = planner(g, 0)
    agent = AgentState("a", g.at(2, 2), g["G"])
    assert plans.plan([agent])["a"][0] == g.at(2, 3)
    table = g.floor.distances_to(g["G"])

    g.floor.block_node(g["m"])
    step = plans.plan([agent])["a"][0]

    assert step == g.at(2, 1)  # back the way it came: round by the top or bottom
    assert plans.on_detours() == {"a"}
    assert g.floor.distances_to(g["G"]) is table
    run = drive(plans, [replace(agent, node=step)], max_ticks=30)
    assert run.all_at_goal()
    assert g["m"] not in run.trails["a"]


def test_a_detour_ends_with_the_agents_goal_or_when_nothing_is_blocked() -> None:
    g = grid(AISLES)
    plans = planner(g, 0)
    g.floor.block_node(g["m"])
    agent = AgentState("a", g.at(2, 3), g["G"])
    plans.plan([agent])
    assert plans.on_detours() == {"a"}

    plans.plan([replace(agent, goal=g["S"])])  # its way to S does not run into m
    assert plans.on_detours() == frozenset()
    plans.plan([agent])
    assert plans.on_detours() == {"a"}
    g.floor.unblock_node(g["m"])
    assert plans.plan([agent])["a"][0] == g["m"]
    assert plans.on_detours() == frozenset()


def test_a_fallback_plan_is_dropped_when_an_agent_does_not_follow_it() -> None:
    g = grid(AISLES)
    agents = [AgentState("failed", g["m"], None, frozen=True), AgentState("a", g["S"], g["G"])]
    plans = planner(g, 0)
    for _ in range(20):  # until stuck behind the failed agent and given a plan
        paths = plans.plan(agents)
        agents = [agents[0], AgentState("a", paths["a"][0], g["G"])]
        if plans.on_fallback_plans():
            break
    assert plans.on_fallback_plans() == {"a"}
    planned = plans.plan(agents)["a"][0]
    detour = next(v for v in g.floor.adjacency[agents[1].node] if v not in (planned, g["m"]))
    plans.plan([agents[0], AgentState("a", detour, g["G"])])  # it went elsewhere
    assert plans.on_fallback_plans() == frozenset()


def test_an_aisle_closing_ahead_of_an_agent_sends_it_round_without_a_search() -> None:
    """Its goal is farther away for good: progress counts afresh, so the long way round is
    not taken for being stuck."""
    g = grid(
        """
        .........
        .#######.
        S.......G
        """
    )
    plans = planner(g, 0)
    agent = AgentState("a", g["S"], g["G"])
    for _ in range(3):
        agent = AgentState("a", plans.plan([agent])["a"][0], g["G"])
    assert agent.node == g.at(2, 3)
    g.floor.close_edge(g.at(2, 5), g.at(2, 6))
    run = drive(plans, [agent], max_ticks=30)
    assert run.all_at_goal()
    assert run.ticks == 15  # back 3, up 2, along 8, down 2
    assert plans.stats.fallback_invocations == 0


def test_a_goal_behind_a_blocked_node_is_cut_off_though_the_tables_reach_it() -> None:
    g = grid(
        """
        S...G
        ###.#
        ###P#
        """
    )
    plans = planner(g, 0)
    mouth = g.at(1, 3)
    assert not plans.cut_off(g["S"], g["P"])
    g.floor.block_node(mouth)
    assert plans.cut_off(g["S"], g["P"])
    assert plans.cut_off(g["S"], mouth)  # the blocked node itself, as a goal
    assert not plans.cut_off(g["S"], g["G"])
    assert g.floor.distances_to(g["P"])[g["S"]] == 5.0  # the tables do not know
    g.floor.unblock_node(mouth)
    assert not plans.cut_off(g["S"], g["P"])


def test_an_agent_standing_on_a_node_that_gets_blocked_drives_off_as_before() -> None:
    g = grid(AISLES)
    plans = planner(g, 0)
    g.floor.block_node(g["m"])  # a spill under it
    agent = AgentState("a", g["m"], g["G"])
    assert plans.plan([agent])["a"][0] == g.at(2, 5)
    assert plans.on_detours() == frozenset()
