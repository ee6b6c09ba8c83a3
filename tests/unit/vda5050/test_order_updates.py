"""Checklist section D: updating an order (items 32-40)."""

from __future__ import annotations

from typing import Any

from controller.vda5050.actions import ActionSpec
from controller.vda5050.events import (
    BaseExtensionDue,
    Incident,
    IncidentKind,
    OrderAccepted,
    OrderRefused,
    OrderRejected,
)
from controller.vda5050.headers import Topic
from controller.vda5050.master import AgvMaster
from controller.vda5050.order_builder import NodeSpec
from tests.unit.vda5050.samples import (
    DOCK,
    MAP,
    PARK,
    RACK,
    ROUTE,
    SORTER,
    later,
    of_type,
    online_master,
    order_state,
    published,
    state,
)


def running(released: int = 3) -> tuple[AgvMaster, dict[str, Any]]:
    """S1: base park → aisle → rack, horizon → sorter; accepted by the AGV."""
    mc = online_master()
    order = published(mc.send_order("pick-7f3c2a", ROUTE, released=released, now=later(1)))[0]
    mc.on_state(order_state(order, 2, later(2)), later(2))
    return mc, order


def at_rack(order: dict[str, Any], update_id: int, header_id: int, **fields: Any) -> dict:
    """The AGV reached the decision point (the rack, sequenceId 4)."""
    return state(
        header_id,
        later(header_id),
        orderId=order["orderId"],
        orderUpdateId=update_id,
        lastNodeId="N-RACK-07-12",
        lastNodeSequenceId=4,
        **fields,
    )


def test_mc_32_an_update_keeps_the_order_id_and_counts_the_update_id_up() -> None:
    mc, _order = running()
    update = published(mc.extend_order((RACK, SORTER), released=2, now=later(3)))[0]
    assert (update["orderId"], update["orderUpdateId"]) == ("pick-7f3c2a", 1)
    mc.on_state(order_state(update, 4, later(4)), later(4))
    more = (SORTER, DOCK)
    second = published(mc.extend_order(more, released=2, now=later(5)))[0]
    assert second["orderUpdateId"] == 2


def test_mc_33_an_update_starts_at_the_decision_point_unchanged() -> None:
    mc, order = running()
    update = published(mc.extend_order((RACK, SORTER), released=2, now=later(3)))[0]
    rack_sent = order["nodes"][2]
    assert update["nodes"][0] == rack_sent  # same nodeId, sequenceId, position, actions (S2)
    assert [n["nodeId"] for n in update["nodes"]] == ["N-RACK-07-12", "N-SORTER-IN-2"]
    assert "N-PARK-03" not in {n["nodeId"] for n in update["nodes"]}  # no earlier base
    assert [e["edgeId"] for e in update["edges"]] == ["N-RACK-07-12_N-SORTER-IN-2"]
    assert all(x["released"] for x in update["nodes"] + update["edges"])


def test_mc_34_sequence_ids_continue_and_resent_horizon_keeps_its_ids() -> None:
    mc, order = running()
    update = published(mc.extend_order((RACK, SORTER, DOCK), released=2, now=later(3)))[0]
    assert [n["sequenceId"] for n in update["nodes"]] == [4, 6, 8]
    assert [e["sequenceId"] for e in update["edges"]] == [5, 7]
    horizon_before = order["nodes"][3]
    assert update["nodes"][1]["sequenceId"] == horizon_before["sequenceId"]
    assert update["nodes"][1]["actions"] == horizon_before["actions"]  # same drop actionId
    assert update["edges"][0]["edgeId"] == order["edges"][2]["edgeId"]
    assert [n["released"] for n in update["nodes"]] == [True, True, False]


def test_mc_35_after_an_empty_base_the_update_starts_at_the_last_node() -> None:
    mc, order = running(released=3)
    # The AGV drove its whole base; the horizon was only sent as the order's tail, so it
    # reports nothing left (Fig. 8 step 8) and stands on the rack, sequenceId 4.
    mc.on_state(at_rack(order, 0, 5, nodeStates=[], edgeStates=[]), later(5))
    update = published(mc.extend_order((RACK, SORTER), released=2, now=later(6)))[0]
    assert (update["nodes"][0]["nodeId"], update["nodes"][0]["sequenceId"]) == (
        "N-RACK-07-12",
        4,
    )
    assert update["edges"][0]["sequenceId"] == 5
    # An empty base that ended at a node we did not send cannot be stitched onto.
    mc2, order2 = running(released=3)
    lost = state(
        5, later(5), orderId=order2["orderId"], lastNodeId="N-ELSEWHERE", lastNodeSequenceId=12
    )
    mc2.on_state(lost, later(5))
    assert of_type(mc2.extend_order((RACK, SORTER), released=2, now=later(6)), OrderRefused)


def test_mc_36_released_elements_are_never_altered() -> None:
    mc, _order = running()
    moved_rack = NodeSpec("N-RACK-07-12", 12.5, 9.5, MAP, actions=RACK.actions)
    out = mc.extend_order((moved_rack, SORTER), released=2, now=later(3))
    assert of_type(out, OrderRefused)
    assert "cancelOrder" in of_type(out, OrderRefused)[0].reason
    other_action = NodeSpec(
        RACK.node_id, RACK.x, RACK.y, MAP, RACK.theta, actions=(ActionSpec("drop"),)
    )
    assert of_type(mc.extend_order((other_action, SORTER), released=2, now=later(3)), OrderRefused)
    aisle_start = (ROUTE[1], RACK, SORTER)  # stitching inside the base
    assert of_type(mc.extend_order(aisle_start, released=3, now=later(3)), OrderRefused)
    assert mc.headers.next_ids[Topic.ORDER] == 1  # nothing was sent
    # The way to change the base: cancel, then a new order from where the AGV stands.
    cancel = published(mc.cancel_order(later(4)), Topic.INSTANT_ACTIONS)[0]
    assert cancel["actions"][0]["actionType"] == "cancelOrder"


def test_mc_37_the_base_is_extended_ahead_of_the_decision_point_and_on_new_base_request() -> None:
    mc, order = running()
    near = at_rack(
        order,
        0,
        5,
        nodeStates=[{"nodeId": "N-SORTER-IN-2", "sequenceId": 6, "released": False}],
        edgeStates=[{"edgeId": order["edges"][2]["edgeId"], "sequenceId": 5, "released": False}],
    )
    due = of_type(mc.on_state(near, later(5)), BaseExtensionDue)
    assert [(d.order_id, d.requested_by_agv) for d in due] == [("pick-7f3c2a", False)]
    assert not of_type(mc.on_state(near | {"headerId": 6}, later(6)), BaseExtensionDue)  # once
    asked = of_type(
        mc.on_state(near | {"headerId": 7, "newBaseRequest": True}, later(7)), BaseExtensionDue
    )
    assert [d.requested_by_agv for d in asked] == [True]
    # Far from the decision point, no horizon and no request: nothing to do.
    quiet = online_master()
    whole = published(quiet.send_order("o-2", ROUTE, released=4, now=later(1)))[0]
    assert not of_type(quiet.on_state(order_state(whole, 2, later(2)), later(2)), BaseExtensionDue)


def test_mc_38_accepted_only_when_a_state_echoes_it_and_resent_bounded_until_then() -> None:
    mc = online_master()
    first = published(mc.send_order("o-1", ROUTE, released=3, now=later(1)))[0]
    other = state(2, later(2))  # still idle, no orderId: not accepted
    assert not of_type(mc.on_state(other, later(2)), OrderAccepted)
    assert published(mc.tick(later(3))) == []  # within the 5 s timeout
    resends = []
    for t in (6.1, 16.2, 36.3):  # back-off 5 s, 10 s, 20 s
        resends += published(mc.tick(later(t)), Topic.ORDER)
    strip = {"headerId", "timestamp"}
    assert [m["headerId"] for m in resends] == [1, 2, 3]
    assert all(
        {k: v for k, v in m.items() if k not in strip}
        == {k: v for k, v in first.items() if k not in strip}
        for m in resends
    )
    incident = of_type(mc.tick(later(80)), Incident)
    assert [i.kind for i in incident] == [IncidentKind.ORDER_NOT_ACCEPTED]
    assert mc.tick(later(500)) == []  # no endless loop
    # An echo with an error that references the message is no acceptance.
    mc2 = online_master()
    order = published(mc2.send_order("o-1", ROUTE, released=3, now=later(1)))[0]
    error = {
        "errorType": "orderError",
        "errorLevel": "WARNING",
        "errorReferences": [
            {"referenceKey": "headerId", "referenceValue": "0"},
            {"referenceKey": "topic", "referenceValue": "order"},
        ],
    }
    out = mc2.on_state(order_state(order, 2, later(2), errors=[error]), later(2))
    assert not of_type(out, OrderAccepted)
    assert of_type(out, OrderRejected)
    mc3 = online_master()
    order = published(mc3.send_order("o-1", ROUTE, released=3, now=later(1)))[0]
    assert of_type(mc3.on_state(order_state(order, 2, later(2)), later(2)), OrderAccepted)


def test_mc_39_nothing_more_is_sent_for_an_order_after_cancel_order() -> None:
    mc = online_master()
    published(mc.send_order("o-1", ROUTE, released=3, now=later(1)))
    mc.cancel_order(later(2))  # before the order was even confirmed
    assert published(mc.tick(later(30)), Topic.ORDER) == []  # no resend of the order
    mc2, _order = running()
    mc2.cancel_order(later(3))
    refused = of_type(mc2.extend_order((RACK, SORTER), released=2, now=later(4)), OrderRefused)
    assert refused
    assert "cancelOrder" in refused[0].reason


def test_mc_40_a_rejection_stops_updates_and_raises_an_incident() -> None:
    mc, order = running()
    update = published(mc.extend_order((RACK, SORTER), released=2, now=later(3)))[0]
    error = {
        "errorType": "orderUpdateError",
        "errorLevel": "WARNING",
        "errorDescription": "decision point not in base",
        "errorReferences": [
            {"referenceKey": "orderId", "referenceValue": update["orderId"]},
            {"referenceKey": "orderUpdateId", "referenceValue": "1"},
        ],
    }
    out = mc.on_state(at_rack(order, 0, 4, errors=[error]), later(4))
    assert [r.order_update_id for r in of_type(out, OrderRejected)] == [1]
    assert [i.kind for i in of_type(out, Incident)] == [IncidentKind.ORDER_REJECTED]
    assert of_type(mc.extend_order((RACK, SORTER), released=2, now=later(5)), OrderRefused)
    assert published(mc.tick(later(60)), Topic.ORDER) == []
    # S4's stale-update error (orderUpdateId 0, after 1 was accepted) rejects nothing new.
    mc2, order2 = running()
    upd = published(mc2.extend_order((RACK, SORTER), released=2, now=later(3)))[0]
    stale = dict(
        error,
        errorReferences=[
            {"referenceKey": "headerId", "referenceValue": "44"},
            {"referenceKey": "orderId", "referenceValue": upd["orderId"]},
            {"referenceKey": "orderUpdateId", "referenceValue": "0"},
        ],
    )
    out = mc2.on_state(order_state(upd, 4, later(4), errors=[stale]), later(4))
    assert of_type(out, OrderAccepted)
    assert not of_type(out, OrderRejected)
    assert PARK.node_id == order2["nodes"][0]["nodeId"]
