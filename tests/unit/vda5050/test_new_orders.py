"""Checklist section C: building a new order (items 17-30, 31 n/a)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from controller.vda5050.actions import ActionSpec, BlockingType, params
from controller.vda5050.errors import InvalidOrder
from controller.vda5050.events import InstantActionsRefused, OrderRefused, Publish
from controller.vda5050.factsheet import parse_factsheet, predefined_only
from controller.vda5050.headers import Topic
from controller.vda5050.ids import counter_ids
from controller.vda5050.inbound import Position
from controller.vda5050.order_builder import EdgeSpec, NodeSpec, build_order
from tests.unit.vda5050.samples import (
    AISLE,
    DOCK,
    MAP,
    PARK,
    PICK,
    RACK,
    ROUTE,
    SORTER,
    factsheet,
    later,
    of_type,
    online_master,
    order_state,
    published,
    state,
)

CAPS = parse_factsheet(factsheet())


def build(route: tuple[NodeSpec, ...] = ROUTE, released: int = 3, **kw: object) -> dict:
    args: dict = {
        "released": released,
        "last_node_id": "N-PARK-03",
        "position": None,
        "caps": CAPS,
        "new_id": counter_ids(),
    } | kw
    return build_order("o-1", route, **args).to_json()


def refusal(out: list) -> str:
    refused = of_type(out, OrderRefused)
    assert refused, out
    assert not [o for o in out if isinstance(o, Publish)]
    return str(refused[0].reason)


def test_mc_17_nodes_are_not_empty_and_there_is_one_edge_less() -> None:
    order = build()
    assert len(order["nodes"]) == 4
    assert len(order["edges"]) == 3
    with pytest.raises(InvalidOrder, match="at least one node"):
        build(())
    with pytest.raises(InvalidOrder, match="need 3 edges"):
        build(edges=[EdgeSpec()])
    single = build((PARK,), released=1)
    assert (len(single["nodes"]), single["edges"]) == (1, [])


def test_mc_18_sequence_ids_alternate_from_zero_for_each_new_order() -> None:
    mc = online_master()
    first = published(mc.send_order("o-1", ROUTE, released=4, now=later(1)))[0]
    assert [n["sequenceId"] for n in first["nodes"]] == [0, 2, 4, 6]
    assert [e["sequenceId"] for e in first["edges"]] == [1, 3, 5]
    done = state(
        2,
        later(60),
        orderId="o-1",
        lastNodeId="N-SORTER-IN-2",
        lastNodeSequenceId=6,
        actionStates=[
            {"actionId": a["actionId"], "actionType": a["actionType"], "actionStatus": "FINISHED"}
            for n in first["nodes"]
            for a in n["actions"]
        ],
    )
    mc.on_state(done, later(60))
    second = published(mc.send_order("o-2", (SORTER, DOCK), released=2, now=later(61)))[0]
    assert [n["sequenceId"] for n in second["nodes"]] == [0, 2]
    assert [e["sequenceId"] for e in second["edges"]] == [1]


def test_mc_19_each_edge_joins_the_node_before_and_the_node_after_it() -> None:
    order = build(edges=[EdgeSpec("E-1"), EdgeSpec(), EdgeSpec("E-3", max_speed=1.2)])
    nodes = order["nodes"]
    for k, edge in enumerate(order["edges"]):
        assert (edge["startNodeId"], edge["endNodeId"]) == (
            nodes[k]["nodeId"],
            nodes[k + 1]["nodeId"],
        )
    assert [e["edgeId"] for e in order["edges"]] == ["E-1", "N-AISLE-07_N-RACK-07-12", "E-3"]


def test_mc_20_released_elements_form_a_prefix_and_edges_need_both_nodes_released() -> None:
    order = build(released=2)
    assert [n["released"] for n in order["nodes"]] == [True, True, False, False]
    assert [e["released"] for e in order["edges"]] == [True, False, False]
    everything = build(released=4)
    assert all(x["released"] for x in everything["nodes"] + everything["edges"])
    for released in (0, 5):
        with pytest.raises(InvalidOrder, match="released"):
            build(released=released)


def test_mc_21_the_first_node_is_the_last_node_or_covers_the_agvs_position() -> None:
    assert build()["nodes"][0]["nodeId"] == "N-PARK-03"
    from_aisle = (AISLE, RACK)
    with pytest.raises(InvalidOrder, match="last node"):
        build(from_aisle, released=2)
    # Not at the node, but within its allowedDeviationXY (0.5 m) and localized: reachable.
    near_park = Position(2.3, 1.2, 0.0, MAP, initialized=True)
    assert build(last_node_id="", position=near_park)["nodes"][0]["nodeId"] == "N-PARK-03"
    with pytest.raises(InvalidOrder):  # the same pose while not localized counts for nothing
        build(last_node_id="", position=Position(2.3, 1.2, 0.0, MAP, initialized=False))
    with pytest.raises(InvalidOrder):  # too far
        build(last_node_id="", position=Position(3.0, 1.0, 0.0, MAP, initialized=True))


def test_mc_22_a_new_order_id_starts_at_order_update_id_zero() -> None:
    mc = online_master()
    order = published(mc.send_order("o-1", ROUTE, released=3, now=later(1)))[0]
    assert order["orderUpdateId"] == 0


def test_mc_23_a_new_order_id_only_to_an_idle_agv() -> None:
    busy = online_master(
        orderId="o-0",
        nodeStates=[{"nodeId": "N-AISLE-07", "sequenceId": 2, "released": True}],
        edgeStates=[{"edgeId": "E-1", "sequenceId": 1, "released": True}],
    )
    assert "not idle" in refusal(busy.send_order("o-1", ROUTE, released=3, now=later(1)))
    running = online_master(
        orderId="o-0",
        actionStates=[{"actionId": "x-1", "actionType": "pick", "actionStatus": "RUNNING"}],
    )
    assert "not idle" in refusal(running.send_order("o-1", ROUTE, released=3, now=later(1)))
    settled = online_master(
        orderId="o-0",
        actionStates=[
            {"actionId": "x-1", "actionType": "pick", "actionStatus": "FINISHED"},
            {"actionId": "x-2", "actionType": "drop", "actionStatus": "FAILED"},
        ],
    )
    assert published(settled.send_order("o-1", ROUTE, released=3, now=later(1)))
    same_id = online_master(orderId="o-0")
    assert "extend_order" in refusal(same_id.send_order("o-0", ROUTE, released=3, now=later(1)))


@pytest.mark.parametrize("mode", ["MANUAL", "SERVICE", "TEACHIN"])
def test_mc_24_orders_and_instant_actions_only_in_automatic_modes_except_recovery(
    mode: str,
) -> None:
    mc = online_master(operatingMode=mode)
    assert "operating_mode" in refusal(mc.send_order("o-1", ROUTE, released=3, now=later(1)))
    charge = [ActionSpec("startCharging", BlockingType.HARD)]
    assert of_type(mc.send_instant_actions(charge, later(2)), InstantActionsRefused)
    assert published(mc.cancel_order(later(3)), Topic.INSTANT_ACTIONS)  # recovery is allowed
    semi = online_master(operatingMode="SEMIAUTOMATIC")
    assert published(semi.send_order("o-1", ROUTE, released=3, now=later(1)))


def test_mc_25_optional_fields_only_when_the_factsheet_lists_them() -> None:
    bare = parse_factsheet(factsheet(optional=()))
    order = build_order(
        "o-1",
        ROUTE,
        released=3,
        last_node_id="N-PARK-03",
        position=None,
        caps=bare,
        new_id=counter_ids(),
        edges=[EdgeSpec(max_speed=1.5), EdgeSpec(), EdgeSpec()],
    )
    message = order.to_json()
    assert all(set(n["nodePosition"]) == {"x", "y", "mapId"} for n in message["nodes"])
    assert all("maxSpeed" not in e for e in message["edges"])
    assert order.dropped_fields == {
        "order.nodes.nodePosition.theta",
        "order.nodes.nodePosition.allowedDeviationXY",
        "order.edges.maxSpeed",
    }
    full = build(edges=[EdgeSpec(max_speed=1.5), EdgeSpec(), EdgeSpec()])
    assert full["nodes"][2]["nodePosition"]["theta"] == 1.5708
    assert full["edges"][0]["maxSpeed"] == 1.5
    # No factsheet yet: no optional fields at all.
    assert "theta" not in build(caps=predefined_only())["nodes"][2]["nodePosition"]


def test_mc_26_only_action_types_and_scopes_the_factsheet_lists() -> None:
    no_drop = parse_factsheet(factsheet(actions={"pick": ["NODE"], "cancelOrder": ["INSTANT"]}))
    with pytest.raises(InvalidOrder, match="'drop'"):
        build(caps=no_drop)
    edge_pick = EdgeSpec(actions=(PICK,))
    with pytest.raises(InvalidOrder, match="scope EDGE"):
        build((PARK, RACK), released=2, caps=no_drop, edges=[edge_pick])
    typo = ActionSpec("pick", parameters=params(loadID="T"))
    at_park = (NodeSpec("N-PARK-03", 2.0, 1.0, MAP, actions=(typo,)),)
    for caps in (predefined_only(), CAPS):  # predefined keys: `loadId`
        with pytest.raises(InvalidOrder, match="loadID"):
            build(at_park, released=1, caps=caps)
    mc = online_master(sheet=factsheet(actions={"pick": ["NODE"], "drop": ["NODE"]}))
    refused = mc.send_instant_actions([ActionSpec("startPause", BlockingType.HARD)], later(1))
    assert of_type(refused, InstantActionsRefused)
    relocate = ActionSpec("initPosition", parameters=params(X=1.0, y=1.0))  # key is `x`
    refused = online_master().send_instant_actions([relocate], later(1))
    assert "'X'" in of_type(refused, InstantActionsRefused)[0].reason


def test_mc_27_pick_and_friends_are_never_instant_actions_but_a_one_node_order() -> None:
    mc = online_master()
    for action_type in ("pick", "drop", "detectObject", "finePositioning", "waitForTrigger"):
        out = mc.send_instant_actions([ActionSpec(action_type)], later(1))
        assert of_type(out, InstantActionsRefused), action_type
        assert not published(out)
    here = NodeSpec("N-PARK-03", 2.0, 1.0, MAP, actions=(PICK,))
    order = published(mc.send_order("pick-here", (here,), released=1, now=later(2)))[0]
    assert [n["nodeId"] for n in order["nodes"]] == ["N-PARK-03"]
    assert order["edges"] == []
    assert order["nodes"][0]["actions"][0]["actionType"] == "pick"


def test_mc_28_protocol_limits_and_min_order_interval() -> None:
    small = factsheet(
        max_array_lens={"order.nodes": 3, "order.edges": 2, "node.actions": 1},
        timing={"minOrderInterval": 2.0, "minStateInterval": 0.5},
    )
    mc = online_master(sheet=small)
    assert "order.nodes" in refusal(mc.send_order("o-1", ROUTE, released=3, now=later(1)))
    two = NodeSpec("N-PARK-03", 2.0, 1.0, MAP, actions=(PICK, PICK))
    assert "node.actions" in refusal(mc.send_order("o-1", (two,), released=1, now=later(1)))
    short = factsheet(max_string_lens={"msgLen": 400})
    tiny = online_master(sheet=short)
    assert "bytes" in refusal(tiny.send_order("o-1", ROUTE, released=3, now=later(1)))
    assert tiny.headers.next_ids.get(Topic.ORDER, 0) == 0  # a refused message uses no headerId
    # minOrderInterval: a second order message within 2 s is held back.
    first = published(mc.send_order("o-1", ROUTE[:3], released=2, now=later(1)))[0]
    mc.on_state(order_state(first, 2, later(1.5)), later(1.5))
    assert "minOrderInterval" in refusal(mc.extend_order(ROUTE[1:3], released=2, now=later(2)))
    assert published(mc.extend_order(ROUTE[1:3], released=2, now=later(3.1)))


def test_mc_29_node_positions_are_complete_in_range_and_on_enabled_maps() -> None:
    order = build()
    assert all({"x", "y", "mapId"} <= set(n["nodePosition"]) for n in order["nodes"])
    with pytest.raises(InvalidOrder, match="theta"):
        build((NodeSpec("N-PARK-03", 2.0, 1.0, MAP, theta=3.2),), released=1)
    with pytest.raises(InvalidOrder, match="allowedDeviationTheta"):
        build((NodeSpec("N-PARK-03", 2.0, 1.0, MAP, allowed_deviation_theta=-0.1),), released=1)
    with pytest.raises(InvalidOrder, match="allowedDeviationXY"):
        build((NodeSpec("N-PARK-03", 2.0, 1.0, MAP, allowed_deviation_xy=-1.0),), released=1)
    with pytest.raises(InvalidOrder, match="mapId"):
        build((NodeSpec("N-PARK-03", 2.0, 1.0, ""),), released=1)
    mc = online_master(
        maps=[
            {"mapId": MAP, "mapVersion": "1", "mapStatus": "ENABLED"},
            {"mapId": "wh-floor-2", "mapVersion": "1", "mapStatus": "DISABLED"},
        ]
    )
    upstairs = (PARK, NodeSpec("N-LIFT-2", 5.0, 5.0, "wh-floor-2"))
    assert "not enabled" in refusal(mc.send_order("o-1", upstairs, released=2, now=later(1)))
    assert published(mc.send_order("o-2", ROUTE, released=3, now=later(2)))


def test_mc_30_actions_have_unique_ids_a_blocking_type_and_typed_parameters() -> None:
    order = build(released=4)
    actions = [a for n in order["nodes"] for a in n["actions"]]
    assert len({a["actionId"] for a in actions}) == len(actions) == 2
    assert [a["blockingType"] for a in actions] == ["HARD", "HARD"]
    height = next(p for p in actions[0]["actionParameters"] if p["key"] == "height")
    assert height["value"] == 0.8  # a number, not "0.8"
    fixed = ActionSpec("drop", action_id="same-id")
    twice = (
        NodeSpec("N-PARK-03", 2.0, 1.0, MAP, actions=(fixed,)),
        NodeSpec("N-AISLE-07", 12.0, 1.0, MAP, actions=(fixed,)),
    )
    with pytest.raises(InvalidOrder, match="used twice"):
        build(twice, released=2)
    soft = ActionSpec("waitForTrigger", BlockingType.SOFT, params(triggerType="button"))
    waiting = build((NodeSpec("N-PARK-03", 2.0, 1.0, MAP, actions=(soft,)),), released=1)
    assert waiting["nodes"][0]["actions"][0]["blockingType"] == "SOFT"
    assert timedelta(0) == CAPS.min_order_interval
