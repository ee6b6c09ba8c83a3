"""Injected faults on the AGV model, on a virtual clock: a FATAL error mid-task, slow
driving, a refused order. (Connection loss is the device's: test_sim_agv_wire.py.)"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.simulators.agv_testing import by_id, refs, run_until_idle, state
from tests.simulators.sim_testing import action, order


def test_fatal_error_mid_edge_stops_the_vehicle_where_it_is_and_ends_the_order(
    make_agv: Callable,
):
    agv = make_agv("F06")  # F06 (6, 0) → A1-01 (6, 4) at 1.5 m/s
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
    agv.take_state_trigger()
    agv.inject_fatal_error(1.0)
    assert agv.take_state_trigger()
    st = state(agv, 1.0)
    assert (st["driving"], st["velocity"]["vx"]) == (False, 0.0)
    assert (st["agvPosition"]["x"], st["agvPosition"]["y"]) == (6.0, 1.5)  # mid-edge
    assert (st["lastNodeId"], st["orderId"]) == ("F06", "o-1")
    assert (st["nodeStates"], st["edgeStates"]) == ([], [])  # the order cannot go on
    assert by_id(st) == {"pick-1": "FAILED", "drop-1": "FAILED"}
    [error] = st["errors"]
    assert error["errorLevel"] == "FATAL"
    assert refs(error) == {"orderId": "o-1", "nodeId": "F06", "edgeId": "F06-A1-01"}
    assert agv.next_due() is None
    assert state(agv, 100.0)["agvPosition"]["y"] == 1.5  # and it stays there


def test_fatal_error_while_acting_fails_the_running_action(make_agv: Callable):
    agv = make_agv("F06")
    agv.receive_order(
        order(["F06", "A1-01"], actions={1: [action("pick-1", "pick", "TOTE-0001")]}), 0.0
    )
    agv.advance(4.0)  # arrived at 2.67, RUNNING from 3.17
    agv.inject_fatal_error(4.0, error_type="liftFault", description="lift motor overheated")
    st = state(agv, 4.0)
    assert by_id(st) == {"pick-1": "FAILED"}
    [error] = st["errors"]
    assert (error["errorType"], error["errorLevel"]) == ("liftFault", "FATAL")
    assert refs(error)["actionId"] == "pick-1"
    assert st["loads"] == []


def test_fatal_error_refuses_orders_until_cleared_then_the_vehicle_goes_on(make_agv: Callable):
    agv = make_agv("P1")
    agv.inject_fatal_error(0.0)
    agv.receive_order(order(["P1", "F00"]), 1.0)
    st = state(agv, 1.0)
    assert (st["orderId"], st["driving"]) == ("", False)
    assert [(e["errorType"], e["errorLevel"]) for e in st["errors"]] == [
        ("driveFault", "FATAL"),
        ("orderError", "WARNING"),
    ]
    agv.take_state_trigger()
    agv.clear_fatal_error(2.0)
    assert agv.take_state_trigger()
    assert [e["errorLevel"] for e in state(agv, 2.0)["errors"]] == ["WARNING"]
    agv.receive_order(order(["P1", "F00"]), 3.0)
    st = state(agv, 3.0)
    assert (st["orderId"], st["driving"], st["errors"]) == ("o-1", True, [])


def test_fatal_error_during_a_cancel_finishes_the_cancel(make_agv: Callable):
    agv = make_agv("P1")
    agv.receive_order(order(["P1", "F00", "F03"]), 0.0)
    agv.receive_instant_actions(
        {"headerId": 1, "actions": [{"actionId": "c-1", "actionType": "cancelOrder"}]}, 0.5
    )
    agv.inject_fatal_error(1.0)
    assert by_id(state(agv, 1.0))["c-1"] == "FINISHED"


def test_slow_driving_scales_the_speed_from_mid_edge_on(make_agv: Callable):
    agv = make_agv("P1")  # P1 → F00: 3 m at 1.5 m/s
    agv.receive_order(order(["P1", "F00", "F03"]), 0.0)
    agv.set_speed_factor(0.5, 1.0)  # half way: 1.5 m left at 0.75 m/s
    st = state(agv, 1.0)
    assert st["velocity"]["vx"] == 0.75
    assert st["agvPosition"]["x"] == pytest.approx(-1.5)
    assert agv.next_due() == pytest.approx(3.0)
    assert state(agv, 2.0)["agvPosition"]["x"] == pytest.approx(-0.75)
    assert state(agv, 2.0)["distanceSinceLastNode"] == pytest.approx(2.25)
    seen = run_until_idle(agv, 1.0)
    assert [round(t, 6) for t, _ in seen] == [3.0, 7.0]  # the next edge: 3 m in 4 s
    agv.set_speed_factor(1.0, 8.0)
    agv.receive_order(order(["F03", "F06"], order_id="o-2"), 8.0)
    assert agv.next_due() == pytest.approx(10.0)


def test_slow_driving_needs_a_positive_factor(make_agv: Callable):
    with pytest.raises(ValueError, match="positive"):
        make_agv("P1").set_speed_factor(0.0, 0.0)


def test_refusal_rejects_the_next_order_with_an_order_error_and_takes_its_resend(
    make_agv: Callable,
):
    agv = make_agv("P1")
    agv.refuse_next_orders()
    agv.receive_order(order(["P1", "F00"], header_id=5), 0.0)
    st = state(agv, 0.0)
    assert (st["orderId"], st["driving"]) == ("", False)
    [error] = st["errors"]
    assert (error["errorType"], error["errorLevel"]) == ("orderError", "WARNING")
    assert refs(error) == {
        "headerId": "5",
        "topic": "order",
        "orderId": "o-1",
        "orderUpdateId": "0",
    }
    agv.receive_order(order(["P1", "F00"], header_id=6), 1.0)  # the master control retries
    st = state(agv, 1.0)
    assert (st["orderId"], st["driving"], st["errors"]) == ("o-1", True, [])


def test_refusal_spares_orders_that_are_rejected_anyway(make_agv: Callable):
    agv = make_agv("P1")
    agv.refuse_next_orders(1)
    agv.receive_order(order(["F00", "F03"]), 0.0)  # not where the vehicle is
    assert state(agv, 0.0)["errors"][0]["errorType"] == "validationError"
    agv.receive_order(order(["P1", "F00"]), 1.0)
    errors = state(agv, 1.0)["errors"]
    assert [e["errorType"] for e in errors] == ["validationError", "orderError"]
