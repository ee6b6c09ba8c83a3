"""The AGV model on a virtual clock: driving, actions, order handling beyond the checklist
(the numbered [AGV] items are in test_sim_agv_checklist.py)."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from simulators.common.world import World
from tests.simulators.agv_testing import by_id, run_until_idle, state, statuses
from tests.simulators.sim_testing import MAP, action, instant, order


def test_vehicle_starts_on_its_start_node_with_position_and_empty_order(make_agv: Callable):
    agv = make_agv("P1")
    st = state(agv, 0.0)
    assert (st["orderId"], st["orderUpdateId"]) == ("", 0)
    assert (st["lastNodeId"], st["lastNodeSequenceId"]) == ("P1", 0)
    assert st["agvPosition"]["x"] == -3.0
    assert st["agvPosition"]["y"] == 0.0
    assert st["agvPosition"]["mapId"] == MAP
    assert st["agvPosition"]["positionInitialized"]
    assert st["nodeStates"] == []
    assert st["edgeStates"] == []
    assert st["loads"] == []
    assert st["driving"] is False


def test_vehicle_drives_node_by_node_taking_edge_length_over_speed(make_agv: Callable):
    agv = make_agv("P1")  # 1.5 m/s; P1-F00 and F00-F03 are 3 m each: 2 s per edge
    agv.receive_order(order(["P1", "F00", "F03"]), 10.0)
    assert agv.take_state_trigger()
    st = state(agv, 10.0)
    assert st["orderId"] == "o-1"
    assert st["lastNodeId"] == "P1"
    assert st["driving"] is True
    assert [n["nodeId"] for n in st["nodeStates"]] == ["F00", "F03"]
    assert [e["sequenceId"] for e in st["edgeStates"]] == [1, 3]

    agv.advance(11.99)
    assert state(agv, 11.99)["lastNodeId"] == "P1"
    assert state(agv, 11.0)["agvPosition"]["x"] == pytest.approx(-1.5)  # half way

    agv.advance(12.0)
    st = state(agv, 12.0)
    assert (st["lastNodeId"], st["lastNodeSequenceId"]) == ("F00", 2)
    assert [n["nodeId"] for n in st["nodeStates"]] == ["F03"]
    assert [e["edgeId"] for e in st["edgeStates"]] == ["F00-F03"]
    assert st["driving"] is True

    assert agv.next_due() == pytest.approx(14.0)
    agv.advance(14.0)
    st = state(agv, 14.0)
    assert (st["lastNodeId"], st["lastNodeSequenceId"]) == ("F03", 4)
    assert st["nodeStates"] == []
    assert st["edgeStates"] == []
    assert st["driving"] is False
    assert (st["agvPosition"]["x"], st["agvPosition"]["y"]) == (3.0, 0.0)


def test_edge_max_speed_slows_the_vehicle(make_agv: Callable):
    agv = make_agv("P1")
    message = order(["P1", "F00"])
    message["edges"][0]["maxSpeed"] = 0.5
    agv.receive_order(message, 0.0)
    assert agv.next_due() == pytest.approx(6.0)


def test_pick_then_drop_run_through_their_action_states_and_move_the_tote(
    make_agv: Callable, world: World
):
    agv = make_agv("F06")
    agv.receive_order(
        order(
            ["F06", "A1-01", "F06"],
            actions={
                1: [action("pick-1", "pick", "TOTE-0001")],
                2: [action("drop-1", "drop", "TOTE-0001")],
            },
        ),
        0.0,
    )
    st = state(agv, 0.0)
    assert {a["actionId"]: a["actionStatus"] for a in st["actionStates"]} == {
        "pick-1": "WAITING",
        "drop-1": "WAITING",
    }
    seen = run_until_idle(agv)
    leg = 4.0 / 1.5
    assert statuses(seen, "pick-1") == [
        (pytest.approx(leg), "INITIALIZING"),
        (pytest.approx(leg + 0.5), "RUNNING"),
        (pytest.approx(leg + 4.5), "FINISHED"),
    ]
    assert [s for _, s in statuses(seen, "drop-1")] == [
        "WAITING",
        "INITIALIZING",
        "RUNNING",
        "FINISHED",
    ]
    assert statuses(seen, "drop-1")[-1] == (pytest.approx(2 * leg + 4.5 + 3.5), "FINISHED")
    loaded = [st for now, st in seen if st["loads"]]
    assert loaded
    assert loaded[0]["loads"][0]["loadId"] == "TOTE-0001"
    final = seen[-1][1]
    assert final["loads"] == []
    assert final["lastNodeId"] == "F06"
    assert final["errors"] == []
    assert world.totes["TOTE-0001"].node == "F06"


def test_pick_of_an_absent_tote_fails_with_an_error_and_ends_the_order(
    make_agv: Callable, world: World
):
    agv = make_agv("F06")
    agv.receive_order(
        order(
            ["F06", "A1-01", "F06"],
            actions={
                1: [action("pick-1", "pick", "TOTE-0003")],
                2: [action("drop-1", "drop", "TOTE-0003")],
            },
        ),
        0.0,
    )
    seen = run_until_idle(agv)
    assert [s for _, s in statuses(seen, "pick-1")] == ["INITIALIZING", "FAILED"]
    assert seen[0][0] == pytest.approx(4.0 / 1.5)
    final = seen[-1][1]
    by_id = {a["actionId"]: a["actionStatus"] for a in final["actionStates"]}
    assert by_id == {"pick-1": "FAILED", "drop-1": "FAILED"}
    assert final["nodeStates"] == []
    assert final["edgeStates"] == []
    assert final["loads"] == []
    assert final["lastNodeId"] == "A1-01"
    [error] = final["errors"]
    assert error["errorType"] == "loadNotFound"
    assert error["errorLevel"] == "WARNING"
    refs = {r["referenceKey"]: r["referenceValue"] for r in error["errorReferences"]}
    assert refs["actionId"] == "pick-1"
    assert refs["orderId"] == "o-1"
    assert world.totes["TOTE-0003"].node == "A1-02"  # untouched


def test_edge_that_is_not_on_the_map_is_a_validation_error(make_agv: Callable):
    agv = make_agv("P1")
    agv.receive_order(order(["P1", "F03"]), 0.0)
    assert state(agv, 0.0)["errors"][0]["errorType"] == "validationError"


def test_new_order_while_busy_is_an_order_update_error_and_the_first_continues(
    make_agv: Callable,
):
    agv = make_agv("P1")
    agv.receive_order(order(["P1", "F00", "F03"]), 0.0)
    agv.receive_order(order(["P1", "F00"], order_id="o-2"), 1.0)
    st = state(agv, 1.0)
    assert st["orderId"] == "o-1"
    assert st["errors"][0]["errorType"] == "orderUpdateError"
    run_until_idle(agv, 1.0)
    assert state(agv, 5.0)["lastNodeId"] == "F03"


def test_order_update_stitches_at_the_end_of_the_base(make_agv: Callable):
    agv = make_agv("P1")
    agv.receive_order(order(["P1", "F00", "F03"], released=2), 0.0)
    st = state(agv, 0.0)
    assert [(n["nodeId"], n["released"]) for n in st["nodeStates"]] == [
        ("F00", True),
        ("F03", False),
    ]
    run_until_idle(agv)
    assert state(agv, 2.0)["lastNodeId"] == "F00"  # stops at the end of the base
    agv.receive_order(order(["F00", "F03", "F06"], update_id=1, first_seq=2), 3.0)
    st = state(agv, 3.0)
    assert st["orderUpdateId"] == 1
    assert st["errors"] == []
    assert [n["nodeId"] for n in st["nodeStates"]] == ["F03", "F06"]
    run_until_idle(agv, 3.0)
    assert (state(agv, 9.0)["lastNodeId"], state(agv, 9.0)["lastNodeSequenceId"]) == ("F06", 6)


def test_factsheet_lists_pick_and_drop_on_nodes_with_their_parameters(make_agv: Callable):
    sheet = make_agv("P1").factsheet(0, "2026-11-22T09:15:03.12Z")
    actions = {a["actionType"]: a for a in sheet["protocolFeatures"]["agvActions"]}
    for kind in ("pick", "drop"):
        assert actions[kind]["actionScopes"] == ["NODE"]
        assert {p["key"] for p in actions[kind]["actionParameters"]} >= {"loadId", "stationType"}
    assert actions["cancelOrder"]["actionScopes"] == ["INSTANT"]
    assert sheet["physicalParameters"]["speedMax"] == 1.5


def test_battery_drains_slowly_enough_for_a_demo(make_agv: Callable):
    agv = make_agv("P1")
    start = state(agv, 0.0)["batteryState"]["batteryCharge"]
    agv.driving = True  # an hour of sim time spent driving
    after = state(agv, 3600.0)["batteryState"]["batteryCharge"]
    assert start > after > 50.0
    assert not math.isclose(start, after)


def test_cancel_while_paused_finishes_after_stop_pause_at_the_end_of_the_edge(
    make_agv: Callable,
):
    agv = make_agv("P1")
    agv.receive_order(order(["P1", "F00", "F03"]), 0.0)
    agv.receive_instant_actions(instant(("p-1", "startPause"), ("c-1", "cancelOrder")), 1.0)
    agv.advance(10.0)
    assert by_id(state(agv, 10.0))["c-1"] == "RUNNING"
    agv.receive_instant_actions(instant(("p-2", "stopPause")), 10.0)
    final = run_until_idle(agv, 10.0)[-1][1]
    assert by_id(final)["c-1"] == "FINISHED"
    assert (final["lastNodeId"], final["nodeStates"]) == ("F00", [])
