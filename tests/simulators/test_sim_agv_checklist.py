"""The [AGV] items of the VDA 5050 checklist (shared/reference/vda5050/CHECKLIST.md) that are
pure behaviour, on the model and a virtual clock; each test is named after its item. The
wire items (46 on the wire, 48's interval, 67-69, 72) are in test_sim_agv_device.py and
test_sim_agv_wire.py. Every state asked for here is validated against the 2.1.0 schema."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from simulators.agv.model import BATTERY_CHARGE_PCT_PER_S
from simulators.common.world import World
from tests.simulators.agv_testing import (
    TS,
    by_id,
    instant_with,
    refs,
    run_until_idle,
    state,
    statuses,
)
from tests.simulators.sim_testing import MAP, action, assert_valid, instant, order

LEG_F06_A101 = 4.0 / 1.5  # 4 m at 1.5 m/s
PICK_STARTS = LEG_F06_A101 + 0.5  # INITIALIZING for 0.5 s
PICK_ENDS = PICK_STARTS + 4.0


def pick_and_return(order_id: str = "o-1") -> dict:
    return order(
        ["F06", "A1-01", "F06"],
        order_id=order_id,
        actions={
            1: [action("pick-1", "pick", "TOTE-0001")],
            2: [action("drop-1", "drop", "TOTE-0001")],
        },
    )


# ---- E. instant actions and cancellation ------------------------------------------------


def test_agv_43_every_instant_action_appears_in_action_states_rejected_ones_failed(
    make_agv: Callable,
):
    agv = make_agv("P1")
    agv.receive_order(order(["P1", "F00"]), 0.0)
    agv.receive_instant_actions(
        instant(("s-1", "stateRequest"), ("f-1", "factsheetRequest"), ("u-1", "startTeleport")),
        0.5,
    )
    agv.receive_instant_actions(instant_with("i-1", "initPosition", x=1.0, y=2.0), 0.5)
    statuses_now = by_id(state(agv, 0.5))
    assert statuses_now == {"s-1": "FINISHED", "f-1": "FINISHED", "u-1": "FAILED", "i-1": "FAILED"}
    failed = {a["actionId"]: a for a in state(agv, 0.5)["actionStates"]}
    assert "not supported" in failed["u-1"]["resultDescription"]
    assert "no active order" in failed["i-1"]["resultDescription"]  # busy: rejected


def test_agv_44_cancel_order_fails_waiting_actions_runs_until_stopped_then_finishes(
    make_agv: Callable,
):
    agv = make_agv("F06")
    agv.receive_order(
        order(
            ["F06", "A1-01", "A1-02"],
            update_id=2,
            actions={2: [action("drop-1", "drop", "TOTE-0001")]},
        ),
        0.0,
    )
    agv.receive_instant_actions(instant(("c-1", "cancelOrder")), 1.0)
    st = state(agv, 1.0)
    assert by_id(st) == {"drop-1": "FAILED", "c-1": "RUNNING"}
    assert st["driving"] is True  # it stops at the end of the edge it is on
    seen = run_until_idle(agv, 1.0)
    assert [s for _, s in statuses(seen, "c-1")] == ["FINISHED"]  # at once when it stood still
    final = seen[-1][1]
    assert (final["lastNodeId"], final["driving"]) == ("A1-01", False)
    assert (final["nodeStates"], final["edgeStates"]) == ([], [])
    assert (final["orderId"], final["orderUpdateId"]) == ("o-1", 2)  # kept


def test_agv_44_cancel_lets_a_running_pick_finish_before_the_cancel_finishes(
    make_agv: Callable,
):
    agv = make_agv("F06")
    agv.receive_order(pick_and_return(), 0.0)
    agv.advance(PICK_STARTS + 1.0)
    agv.receive_instant_actions(instant(("c-1", "cancelOrder")), PICK_STARTS + 1.0)
    assert by_id(state(agv, PICK_STARTS + 1.0)) == {
        "pick-1": "RUNNING",  # not interruptible
        "drop-1": "FAILED",
        "c-1": "RUNNING",
    }
    seen = run_until_idle(agv, PICK_STARTS + 1.0)
    assert statuses(seen, "c-1")[-1] == (pytest.approx(PICK_ENDS), "FINISHED")
    final = seen[-1][1]
    assert by_id(final)["pick-1"] == "FINISHED"
    assert [load["loadId"] for load in final["loads"]] == ["TOTE-0001"]
    assert (final["lastNodeId"], final["nodeStates"]) == ("A1-01", [])


def test_agv_45_cancel_without_an_order_fails_with_no_order_to_cancel_warning(
    make_agv: Callable,
):
    agv = make_agv("P1")
    agv.receive_instant_actions(instant(("c-1", "cancelOrder")), 0.0)
    st = state(agv, 0.0)
    assert by_id(st) == {"c-1": "FAILED"}
    [error] = st["errors"]
    assert (error["errorType"], error["errorLevel"]) == ("noOrderToCancel", "WARNING")
    assert refs(error)["actionId"] == "c-1"


def test_agv_46_start_and_stop_pause_set_paused_and_freeze_the_vehicle_mid_edge(
    make_agv: Callable,
):
    agv = make_agv("P1")  # P1 (-3, 0) → F00 → F03: 2 s per edge
    agv.receive_order(order(["P1", "F00", "F03"]), 0.0)
    agv.receive_instant_actions(instant(("p-1", "startPause")), 1.0)
    st = state(agv, 1.0)
    assert by_id(st)["p-1"] == "FINISHED"
    assert (st["paused"], st["driving"], st["velocity"]["vx"]) == (True, False, 0.0)
    assert st["agvPosition"]["x"] == pytest.approx(-1.5)  # stopped half way, not at a node
    assert agv.next_due() is None
    st = state(agv, 50.0)
    assert (st["agvPosition"]["x"], st["lastNodeId"]) == (pytest.approx(-1.5), "P1")

    agv.receive_instant_actions(instant(("p-2", "stopPause")), 50.0)
    st = state(agv, 50.0)
    assert by_id(st)["p-2"] == "FINISHED"
    assert (st["paused"], st["driving"]) == (False, True)
    assert agv.next_due() == pytest.approx(51.0)  # the other half of the edge
    seen = run_until_idle(agv, 50.0)
    assert seen[-1][0] == pytest.approx(53.0)
    assert seen[-1][1]["lastNodeId"] == "F03"


def test_agv_46_pause_pauses_a_running_action_and_stop_pause_resumes_it(make_agv: Callable):
    agv = make_agv("F06")
    agv.receive_order(pick_and_return(), 0.0)
    paused_at = PICK_STARTS + 1.0
    agv.advance(paused_at)
    agv.receive_instant_actions(instant(("p-1", "startPause")), paused_at)
    assert by_id(state(agv, paused_at))["pick-1"] == "PAUSED"  # 2.1 §6.11 (schema errata)
    agv.advance(100.0)
    assert by_id(state(agv, 100.0))["pick-1"] == "PAUSED"
    agv.receive_instant_actions(instant(("p-2", "stopPause")), 100.0)
    assert by_id(state(agv, 100.0))["pick-1"] == "RUNNING"
    assert agv.next_due() == pytest.approx(100.0 + PICK_ENDS - paused_at)


def test_agv_46_start_and_stop_charging_set_charging_and_charge_the_battery(
    make_agv: Callable,
):
    agv = make_agv("CH1")  # a charger node
    before = state(agv, 0.0)["batteryState"]
    assert before["charging"] is False
    agv.receive_instant_actions(instant(("ch-1", "startCharging")), 0.0)
    st = state(agv, 0.0)
    assert (by_id(st)["ch-1"], st["batteryState"]["charging"]) == ("FINISHED", True)
    assert st["errors"] == []
    after = state(agv, 60.0)["batteryState"]["batteryCharge"]
    assert after == pytest.approx(
        min(100.0, before["batteryCharge"] + 60 * BATTERY_CHARGE_PCT_PER_S), abs=0.01
    )

    # while charging it takes an order but does not drive off the charger
    agv.receive_order(order(["CH1", "F42"]), 60.0)
    st = state(agv, 60.0)
    assert (st["orderId"], st["driving"], len(st["nodeStates"])) == ("o-1", False, 1)
    agv.receive_instant_actions(instant(("ch-2", "stopCharging")), 61.0)
    st = state(agv, 61.0)
    assert (by_id(st)["ch-2"], st["batteryState"]["charging"]) == ("FINISHED", False)
    assert st["driving"] is True
    assert run_until_idle(agv, 61.0)[-1][1]["lastNodeId"] == "F42"


def test_agv_46_start_charging_off_a_charger_fails_with_an_error(make_agv: Callable):
    agv = make_agv("P1")
    agv.receive_instant_actions(instant(("ch-1", "startCharging")), 0.0)
    st = state(agv, 0.0)
    assert (by_id(st)["ch-1"], st["batteryState"]["charging"]) == ("FAILED", False)
    [error] = st["errors"]
    assert (error["errorType"], error["errorLevel"]) == ("chargingError", "WARNING")
    assert refs(error)["actionId"] == "ch-1"


def test_agv_46_init_position_sets_position_and_last_node(make_agv: Callable):
    agv = make_agv("P1")
    agv.receive_instant_actions(
        instant_with("i-1", "initPosition", x=6.0, y=0.0, theta=1.5, mapId=MAP, lastNodeId="F06"),
        0.0,
    )
    st = state(agv, 0.0)
    assert by_id(st)["i-1"] == "FINISHED"
    position = st["agvPosition"]
    assert (position["x"], position["y"], position["theta"], position["mapId"]) == (
        6.0,
        0.0,
        1.5,
        MAP,
    )
    assert (st["lastNodeId"], st["lastNodeSequenceId"]) == ("F06", 0)
    agv.receive_order(order(["F06", "A1-01"]), 1.0)  # and it is where it was told it is
    assert state(agv, 1.0)["orderId"] == "o-1"


def test_agv_46_state_request_asks_for_a_state_and_factsheet_request_for_a_factsheet(
    make_agv: Callable,
):
    agv = make_agv("P1")
    agv.take_state_trigger()
    agv.receive_instant_actions(instant(("s-1", "stateRequest")), 0.0)
    assert agv.take_state_trigger()
    assert not agv.take_factsheet_request()
    agv.receive_instant_actions(instant(("f-1", "factsheetRequest")), 0.0)
    assert agv.take_factsheet_request()
    assert by_id(state(agv, 0.0)) == {"s-1": "FINISHED", "f-1": "FINISHED"}
    assert_valid("factsheet", agv.factsheet(0, TS))


# ---- F. state -----------------------------------------------------------------------------


def test_agv_48_every_trigger_event_asks_for_a_state_and_nothing_else_does(make_agv: Callable):
    agv = make_agv("F06")
    assert agv.take_state_trigger()  # the first state after start
    agv.advance(0.5)
    assert not agv.take_state_trigger()  # time alone is no trigger

    agv.receive_order(pick_and_return(), 1.0)  # order received, driving changes
    assert agv.take_state_trigger()
    agv.advance(2.0)  # mid-edge: nothing happened
    assert not agv.take_state_trigger()
    # every transition from here on is a trigger: node traversed, action state changes,
    # load change, driving changes
    while (due := agv.next_due()) is not None:
        agv.advance(due)
        assert agv.take_state_trigger(), due
    agv.receive_order(order(["P1", "F00"], order_id="bad"), 20.0)  # error change
    assert agv.take_state_trigger()
    agv.receive_instant_actions(instant(("s-1", "stateRequest")), 21.0)
    assert agv.take_state_trigger()
    # operatingMode and maps never change in the simulator: they cannot trigger anything


def test_agv_49_every_state_validates_also_paused_charging_fatal_and_refused(
    make_agv: Callable,
):
    seen = []
    agv = make_agv("F06")
    agv.receive_order(pick_and_return(), 0.0)
    agv.advance(PICK_STARTS + 1.0)
    agv.receive_instant_actions(instant(("p-1", "startPause")), PICK_STARTS + 1.0)
    seen.append(state(agv, PICK_STARTS + 1.0))
    agv.receive_instant_actions(instant(("p-2", "stopPause")), 10.0)
    agv.set_speed_factor(0.3, 10.0)
    seen += [st for _, st in run_until_idle(agv, 10.0)]
    agv.refuse_next_orders()
    agv.receive_order(order(["F06", "A1-01"], order_id="o-2"), 50.0)
    seen.append(state(agv, 50.0))
    agv.inject_fatal_error(51.0)
    seen.append(state(agv, 51.0))
    charger = make_agv("CH1")
    charger.receive_instant_actions(instant(("c-1", "startCharging")), 0.0)
    seen.append(state(charger, 10.0))

    assert {a["actionStatus"] for st in seen for a in st["actionStates"]} >= {
        "PAUSED",
        "RUNNING",
        "FINISHED",
    }
    assert {e["errorLevel"] for st in seen for e in st["errors"]} == {"WARNING", "FATAL"}
    assert any(st["batteryState"]["charging"] for st in seen)
    assert any(st["paused"] for st in seen)
    for st in seen:  # `state()` validated each already; the required keys, spelled out
        assert {
            "orderId",
            "orderUpdateId",
            "lastNodeId",
            "lastNodeSequenceId",
            "nodeStates",
            "edgeStates",
            "driving",
            "actionStates",
            "batteryState",
            "operatingMode",
            "errors",
            "safetyState",
        } <= st.keys()
        assert {"batteryCharge", "charging"} <= st["batteryState"].keys()
        assert st["safetyState"] == {"eStop": "NONE", "fieldViolation": False}


def test_agv_50_no_order_yet_means_empty_order_id_and_an_unknown_node_an_empty_last_node(
    make_agv: Callable,
):
    agv = make_agv("P1")
    st = state(agv, 0.0)
    assert (st["orderId"], st["orderUpdateId"]) == ("", 0)
    assert (st["lastNodeId"], st["lastNodeSequenceId"]) == ("P1", 0)
    # re-localised somewhere that is not a node: the last node is unknown
    agv.receive_instant_actions(instant_with("i-1", "initPosition", x=1.0, y=1.0, mapId=MAP), 1.0)
    st = state(agv, 1.0)
    assert by_id(st)["i-1"] == "FINISHED"
    assert (st["lastNodeId"], st["lastNodeSequenceId"]) == ("", 0)
    assert (st["orderId"], st["orderUpdateId"]) == ("", 0)


def test_agv_51_traversal_removes_the_node_and_its_edge_sets_last_node_and_starts_actions(
    make_agv: Callable,
):
    agv = make_agv("F06")
    agv.receive_order(pick_and_return(), 0.0)
    st = state(agv, 0.0)
    assert [n["nodeId"] for n in st["nodeStates"]] == ["A1-01", "F06"]
    assert [e["edgeId"] for e in st["edgeStates"]] == ["F06-A1-01", "A1-01-F06"]
    assert by_id(st)["pick-1"] == "WAITING"
    agv.advance(LEG_F06_A101)
    st = state(agv, LEG_F06_A101)
    assert (st["lastNodeId"], st["lastNodeSequenceId"]) == ("A1-01", 2)
    assert [n["sequenceId"] for n in st["nodeStates"]] == [4]
    assert [e["sequenceId"] for e in st["edgeStates"]] == [3]
    assert by_id(st)["pick-1"] == "INITIALIZING"  # left WAITING on arrival
    assert by_id(st)["drop-1"] == "WAITING"


def test_agv_52_node_and_edge_states_list_base_and_horizon_and_horizon_actions_wait(
    make_agv: Callable,
):
    agv = make_agv("P1")
    agv.receive_order(
        order(
            ["P1", "F00", "F03", "F06"],
            released=2,
            actions={3: [action("h-drop", "drop", "TOTE-0001")]},
        ),
        0.0,
    )
    st = state(agv, 0.0)
    assert [(n["nodeId"], n["sequenceId"], n["released"]) for n in st["nodeStates"]] == [
        ("F00", 2, True),
        ("F03", 4, False),
        ("F06", 6, False),
    ]
    assert [(e["sequenceId"], e["released"]) for e in st["edgeStates"]] == [
        (1, True),
        (3, False),
        (5, False),
    ]
    seen = run_until_idle(agv)
    st = seen[-1][1]
    assert (st["lastNodeId"], st["driving"]) == ("F00", False)  # waits at the end of the base
    assert [n["nodeId"] for n in st["nodeStates"]] == ["F03", "F06"]  # horizon still listed
    assert by_id(st) == {"h-drop": "WAITING"}

    # an update that replaces the horizon: the dropped horizon's action goes with it
    agv.receive_order(order(["F00", "F03"], update_id=1, first_seq=2), 5.0)
    st = state(agv, 5.0)
    assert [(n["nodeId"], n["released"]) for n in st["nodeStates"]] == [("F03", True)]
    assert by_id(st) == {}
    final = run_until_idle(agv, 5.0)[-1][1]
    assert (final["lastNodeId"], final["nodeStates"], final["edgeStates"]) == ("F03", [], [])


def test_agv_53_action_states_are_kept_until_a_new_order_finished_ones_with_a_result(
    make_agv: Callable,
):
    agv = make_agv("F06")
    agv.receive_order(pick_and_return(), 0.0)
    final = run_until_idle(agv)[-1][1]
    done = {a["actionId"]: a for a in final["actionStates"]}
    assert done["pick-1"]["actionStatus"] == "FINISHED"
    assert done["pick-1"]["resultDescription"] == "pick TOTE-0001"
    assert done["drop-1"]["resultDescription"] == "drop TOTE-0001"
    agv.receive_instant_actions(instant(("s-1", "stateRequest")), 30.0)
    agv.receive_order(order(["P1", "F00"], order_id="bad"), 31.0)  # rejected: keeps them
    assert set(by_id(state(agv, 31.0))) == {"pick-1", "drop-1", "s-1"}
    agv.receive_order(order(["F06", "A1-01"], order_id="o-2"), 32.0)  # accepted: replaces
    assert by_id(state(agv, 32.0)) == {}


# ---- G. rejections and errors -----------------------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "why"),
    [
        (lambda o: o, "first node not the current node"),
        (lambda o: o["edges"].pop(), "edges != nodes - 1"),
        (lambda o: o["nodes"][1].update(sequenceId=3), "odd node sequenceId"),
        (lambda o: o["edges"][0].update(endNodeId="F03"), "edge does not join its nodes"),
        (lambda o: o["nodes"][0]["nodePosition"].update(mapId="other"), "foreign map"),
        (lambda o: o["nodes"][1].update(released=False), "released edge to unreleased node"),
        (lambda o: o.pop("nodes"), "no nodes"),
        (lambda o: o.update(orderUpdateId=-1), "negative orderUpdateId"),
    ],
)
def test_agv_61_malformed_order_is_not_executed_validation_error_until_one_is_accepted(
    make_agv: Callable, mutate: Callable, why: str
):
    start = "F00" if why.startswith("first") else "P1"
    agv = make_agv(start)
    message = order(["P1", "F00"], header_id=42)
    mutate(message)
    agv.receive_order(message, 0.0)
    st = state(agv, 0.0)
    assert (st["orderId"], st["nodeStates"], st["driving"]) == ("", [], False), why
    [error] = st["errors"]
    assert (error["errorType"], error["errorLevel"]) == ("validationError", "WARNING"), why
    assert agv.take_state_trigger()
    agv.receive_order(message, 0.5)  # sent again: still one error, still not executed
    st = state(agv, 0.5)
    assert (len(st["errors"]), st["orderId"]) == (1, "")
    agv.receive_order(order([start], order_id="o-2"), 1.0)
    assert state(agv, 1.0)["errors"] == []  # cleared by the next accepted order


@pytest.mark.parametrize(
    ("mutate", "offending"),
    [
        (
            lambda o: o["nodes"][1]["actions"].append(action("x-1", "detectObject")),
            {"actionId": "x-1", "actionType": "detectObject"},
        ),
        (
            lambda o: o["edges"][0].update(
                trajectory={"degree": 1, "knotVector": [0, 0, 1, 1], "controlPoints": []}
            ),
            {"edgeId": "P1-F00", "trajectory": "not supported"},
        ),
        (
            lambda o: o["edges"][0]["actions"].append(action("e-1", "pick")),
            {"edgeId": "P1-F00", "actionId": "e-1"},
        ),
    ],
)
def test_agv_62_unsupported_action_or_field_is_an_order_error_naming_it(
    make_agv: Callable, mutate: Callable, offending: dict[str, str]
):
    agv = make_agv("P1")
    message = order(["P1", "F00"])
    mutate(message)
    agv.receive_order(message, 0.0)
    st = state(agv, 0.0)
    assert st["orderId"] == ""
    [error] = st["errors"]
    assert (error["errorType"], error["errorLevel"]) == ("orderError", "WARNING")
    assert offending.items() <= refs(error).items()


def test_agv_63_lower_order_update_id_is_an_order_update_error_and_the_order_continues(
    make_agv: Callable,
):
    agv = make_agv("P1")
    agv.receive_order(order(["P1", "F00", "F03"], update_id=3), 0.0)
    agv.receive_order(order(["P1", "F00", "F03"], update_id=2, header_id=7), 1.0)
    st = state(agv, 1.0)
    [error] = st["errors"]
    assert (error["errorType"], error["errorLevel"]) == ("orderUpdateError", "WARNING")
    assert (st["orderUpdateId"], st["driving"]) == (3, True)
    final = run_until_idle(agv, 1.0)[-1][1]
    assert (final["lastNodeId"], final["orderUpdateId"]) == ("F03", 3)


def test_agv_64_the_same_order_and_update_id_again_is_ignored(make_agv: Callable):
    agv = make_agv("P1")
    agv.receive_order(order(["P1", "F00", "F03"], update_id=1), 0.0)
    before = state(agv, 1.0)
    agv.take_state_trigger()
    agv.receive_order(order(["P1", "F00", "F03"], update_id=1, header_id=2), 1.0)
    assert not agv.take_state_trigger()
    after = state(agv, 1.0)
    drop = ("headerId",)
    assert {k: v for k, v in after.items() if k not in drop} == {
        k: v for k, v in before.items() if k not in drop
    }


def test_agv_65_error_references_name_header_topic_order_update_action_and_node(
    make_agv: Callable, world: World
):
    agv = make_agv("F06")
    agv.receive_order(order(["F06", "A1-01"], header_id=9, actions={1: [action("x", "lift")]}), 0)
    [order_error] = state(agv, 0.0)["errors"]
    assert refs(order_error) == {
        "headerId": "9",
        "topic": "order",
        "orderId": "o-1",
        "orderUpdateId": "0",
        "actionId": "x",
        "actionType": "lift",
    }
    agv.receive_order(
        order(["F06", "A1-01"], actions={1: [action("p-1", "pick", "TOTE-0003")]}), 1.0
    )
    run_until_idle(agv, 1.0)
    [load_error] = state(agv, 10.0)["errors"]
    assert refs(load_error) == {
        "orderId": "o-1",
        "actionId": "p-1",
        "nodeId": "A1-01",
        "loadId": "TOTE-0003",
    }
    agv.receive_instant_actions(instant(("c-1", "cancelOrder")), 11.0)
    cancel_error = state(agv, 11.0)["errors"][-1]
    assert refs(cancel_error) == {"actionId": "c-1", "orderId": "o-1"}
