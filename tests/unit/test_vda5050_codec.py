"""Our VDA 5050 `order` messages against the official 2.1.0 schema, and its semantic rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from controller.domain.messages import NodeAction, RequestAgvState, RouteNode, SendAgvOrder
from edge.codecs.errors import PayloadError
from edge.codecs.vda5050 import OrderEncoder, decode_connection, decode_state
from tests.vda5050_schemas import problems

NOW = datetime(2026, 11, 22, 10, 0, 0, 123456, tzinfo=UTC)
ORDER = SendAgvOrder(
    "AGV-01",
    "demo-1",
    (RouteNode("P1", -3.0, 0.0), RouteNode("F00", 0.0, 0.0), RouteNode("A1-01", 6.0, 4.0)),
    (
        NodeAction(1, "demo-1-pick", "pick", (("loadId", "TOTE-0001"), ("stationType", "rack"))),
        NodeAction(2, "demo-1-drop", "drop", (("loadId", "TOTE-0001"), ("stationType", "station"))),
    ),
)


def encode(encoder: OrderEncoder, order: SendAgvOrder = ORDER) -> dict:
    return json.loads(encoder.order(order, "simbotics", NOW))


def test_an_order_validates_against_the_2_1_0_schema_with_formats_checked() -> None:
    message = encode(OrderEncoder("demo-floor"))
    assert problems("order", message) == []
    assert message["timestamp"] == "2026-11-22T10:00:00.12Z"
    assert (message["version"], message["orderUpdateId"]) == ("2.1.0", 0)


def test_the_validator_really_checks_formats_and_unknown_keys() -> None:
    message = encode(OrderEncoder("demo-floor"))
    assert problems("order", message | {"timestamp": "yesterday"}) != []
    assert problems("order", message | {"informations": []}) != []


def test_sequence_ids_alternate_and_edges_join_their_neighbours() -> None:
    message = encode(OrderEncoder("demo-floor"))
    nodes, edges = message["nodes"], message["edges"]
    assert len(edges) == len(nodes) - 1
    assert [n["sequenceId"] for n in nodes] == [0, 2, 4]
    assert [e["sequenceId"] for e in edges] == [1, 3]
    for k, edge in enumerate(edges):
        assert (edge["startNodeId"], edge["endNodeId"]) == (
            nodes[k]["nodeId"],
            nodes[k + 1]["nodeId"],
        )
    assert all(n["released"] for n in nodes)
    assert all(e["released"] for e in edges)
    assert [a["actionType"] for n in nodes for a in n["actions"]] == ["pick", "drop"]


def test_header_ids_count_per_vehicle() -> None:
    encoder = OrderEncoder("demo-floor")
    other = SendAgvOrder("AGV-02", "demo-2", ORDER.route, ORDER.actions)
    ids = [
        encode(encoder)["headerId"],
        encode(encoder, other)["headerId"],
        encode(encoder)["headerId"],
    ]
    assert ids == [0, 0, 1]


STATE = {
    "headerId": 5,
    "timestamp": "2026-11-22T10:00:00.00Z",
    "version": "2.1.0",
    "manufacturer": "simbotics",
    "serialNumber": "AGV-01",
    "orderId": "demo-1",
    "orderUpdateId": 0,
    "lastNodeId": "A1-01",
    "lastNodeSequenceId": 4,
    "nodeStates": [],
    "edgeStates": [],
    "driving": False,
    "actionStates": [
        {"actionId": "demo-1-pick", "actionType": "pick", "actionStatus": "FINISHED"},
        {"actionId": "demo-1-drop", "actionType": "drop", "actionStatus": "RUNNING"},
    ],
    "batteryState": {"batteryCharge": 80.5, "charging": False},
    "operatingMode": "AUTOMATIC",
    "errors": [],
    "safetyState": {"eStop": "NONE", "fieldViolation": False},
}


def test_a_state_is_decoded_to_what_the_controller_needs() -> None:
    assert problems("state", STATE) == []
    state = decode_state(json.dumps(STATE).encode(), "simbotics", "AGV-01")
    assert (state.order_id, state.last_node_id, state.order_complete) == ("demo-1", "A1-01", False)
    finished = STATE | {
        "actionStates": [dict(a, actionStatus="FINISHED") for a in STATE["actionStates"]]
    }
    assert decode_state(json.dumps(finished).encode(), "simbotics", "AGV-01").order_complete


@pytest.mark.parametrize(
    "broken",
    [
        {"actionStates": [{"actionId": "x", "actionStatus": "DANCING"}]},
        {"driving": "yes"},
        {"serialNumber": "AGV-99"},
        {"batteryState": None},
    ],
)
def test_a_broken_state_raises_a_payload_error(broken: dict) -> None:
    with pytest.raises(PayloadError):
        decode_state(json.dumps(STATE | broken).encode(), "simbotics", "AGV-01")


def test_connection_states_are_decoded() -> None:
    message = {
        k: STATE[k] for k in ("headerId", "timestamp", "version", "manufacturer", "serialNumber")
    }
    payload = json.dumps(message | {"connectionState": "CONNECTIONBROKEN"}).encode()
    assert decode_connection(payload, "simbotics", "AGV-01").value == "CONNECTIONBROKEN"


def test_a_state_request_validates_and_counts_headers_apart_from_orders() -> None:
    encoder = OrderEncoder("demo-floor")
    encode(encoder)
    message = json.loads(encoder.state_request(RequestAgvState("AGV-01", "sr-1"), "simbotics", NOW))
    assert problems("instantActions", message) == []
    assert message["headerId"] == 0
    assert message["actions"] == [
        {"actionId": "sr-1", "actionType": "stateRequest", "blockingType": "NONE"}
    ]
