"""Checklist section E: instant actions and cancellation (items 41-44, 47)."""

from __future__ import annotations

from datetime import timedelta

from controller.vda5050.actions import ActionSpec, BlockingType, params
from controller.vda5050.events import (
    Incident,
    IncidentKind,
    InstantActionEnded,
    InstantActionsRefused,
    OrderCancelled,
    OrderFailed,
)
from controller.vda5050.headers import Topic
from controller.vda5050.master import MasterConfig
from controller.vda5050.order_builder import NodeSpec
from tests.unit.vda5050.samples import (
    MAP,
    ROUTE,
    later,
    of_type,
    online_master,
    order_state,
    published,
    state,
)


def test_mc_41_instant_actions_carry_a_header_and_complete_actions() -> None:
    mc = online_master()
    specs = [
        ActionSpec("startPause", BlockingType.HARD),
        ActionSpec("factsheetRequest", BlockingType.NONE),
    ]
    message = published(mc.send_instant_actions(specs, later(1)), Topic.INSTANT_ACTIONS)[0]
    assert [a["actionType"] for a in message["actions"]] == ["startPause", "factsheetRequest"]
    for action in message["actions"]:
        assert {"actionId", "actionType", "blockingType"} <= set(action)
    refused = mc.send_instant_actions([], later(2))
    assert of_type(refused, InstantActionsRefused)
    assert not published(refused)


def test_mc_42_instant_actions_that_conflict_with_the_running_order_are_refused() -> None:
    mc = online_master()
    order = published(mc.send_order("o-1", ROUTE, released=3, now=later(1)))[0]
    mc.on_state(order_state(order, 2, later(2)), later(2))
    relocate = ActionSpec(
        "initPosition",
        BlockingType.HARD,
        params(x=2.0, y=1.0, theta=0.0, mapId=MAP, lastNodeId="N-PARK-03"),
    )
    for spec in (relocate, ActionSpec("startCharging", BlockingType.HARD)):
        out = mc.send_instant_actions([spec], later(3))
        assert of_type(out, InstantActionsRefused), spec
        assert not published(out)
    pick_id = order["nodes"][2]["actions"][0]["actionId"]
    clash = ActionSpec("startPause", BlockingType.HARD, action_id=pick_id)
    assert of_type(mc.send_instant_actions([clash], later(3)), InstantActionsRefused)
    assert published(mc.send_instant_actions([ActionSpec("startPause")], later(3)))
    idle = online_master()
    assert published(idle.send_instant_actions([relocate], later(1)))  # fine when idle


def test_mc_43_unechoed_instant_actions_are_resent_a_bounded_number_of_times() -> None:
    mc = online_master()
    sent = published(mc.send_instant_actions([ActionSpec("startPause")], later(1)))[0]
    action_id = sent["actions"][0]["actionId"]
    resent = []
    for t in (6.1, 16.2, 36.3):
        resent += published(mc.tick(later(t)), Topic.INSTANT_ACTIONS)
    assert [m["actions"] for m in resent] == [sent["actions"]] * 3  # same actionId
    assert [i.kind for i in of_type(mc.tick(later(80)), Incident)] == [
        IncidentKind.INSTANT_ACTIONS_NOT_ECHOED
    ]
    assert mc.tick(later(600)) == []
    echoed = online_master()
    sent = published(echoed.send_instant_actions([ActionSpec("startPause")], later(1)))[0]
    action_id = sent["actions"][0]["actionId"]
    seen = state(
        2,
        later(2),
        paused=True,
        actionStates=[
            {"actionId": action_id, "actionType": "startPause", "actionStatus": "FINISHED"}
        ],
    )
    ended = of_type(echoed.on_state(seen, later(2)), InstantActionEnded)
    assert [(e.action_id, e.status) for e in ended] == [(action_id, "FINISHED")]
    assert echoed.tick(later(60)) == []


def test_mc_44_an_order_is_cancelled_only_when_cancel_order_is_finished() -> None:
    mc = online_master()
    order = published(mc.send_order("o-1", ROUTE, released=3, now=later(1)))[0]
    mc.on_state(order_state(order, 2, later(2)), later(2))
    cancel = published(mc.cancel_order(later(3)))[0]["actions"][0]
    pick, drop = (n["actions"][0]["actionId"] for n in order["nodes"][2:])

    def agv(header_id: int, status: str) -> dict:
        return state(
            header_id,
            later(header_id),
            orderId="o-1",
            actionStates=[
                {"actionId": pick, "actionType": "pick", "actionStatus": "FAILED"},
                {"actionId": drop, "actionType": "drop", "actionStatus": "FAILED"},
                {
                    "actionId": cancel["actionId"],
                    "actionType": "cancelOrder",
                    "actionStatus": status,
                },
            ],
        )

    running = mc.on_state(agv(4, "RUNNING"), later(4))
    assert not of_type(running, OrderCancelled)
    assert not of_type(running, OrderFailed)  # its actions FAILED because we cancelled
    done = mc.on_state(agv(5, "FINISHED"), later(5))
    assert [c.order_id for c in of_type(done, OrderCancelled)] == ["o-1"]
    # cancelOrder FAILED (noOrderToCancel) is reported, but is no cancellation.
    idle = online_master()
    cancel = published(idle.cancel_order(later(1)))[0]["actions"][0]
    failed = state(
        2,
        later(2),
        actionStates=[
            {"actionId": cancel["actionId"], "actionType": "cancelOrder", "actionStatus": "FAILED"}
        ],
        errors=[
            {
                "errorType": "noOrderToCancel",
                "errorLevel": "WARNING",
                "errorReferences": [
                    {"referenceKey": "actionId", "referenceValue": cancel["actionId"]}
                ],
            }
        ],
    )
    out = idle.on_state(failed, later(2))
    assert not of_type(out, OrderCancelled)
    ended = of_type(out, InstantActionEnded)
    assert [(e.status, e.errors[0].error_type) for e in ended] == [("FAILED", "noOrderToCancel")]


def test_mc_47_the_mc_owns_wait_for_trigger_timeouts_and_cancels_on_expiry() -> None:
    config = MasterConfig(wait_for_trigger_timeout=timedelta(seconds=60))
    mc = online_master(config=config)
    wait = ActionSpec("waitForTrigger", BlockingType.HARD, params(triggerType="operator"))
    here = (NodeSpec("N-PARK-03", 2.0, 1.0, MAP, actions=(wait,)),)
    order = published(mc.send_order("o-1", here, released=1, now=later(1)))[0]
    wait_id = order["nodes"][0]["actions"][0]["actionId"]

    def waiting(header_id: int) -> dict:
        return state(
            header_id,
            later(header_id),
            orderId="o-1",
            actionStates=[
                {"actionId": wait_id, "actionType": "waitForTrigger", "actionStatus": "RUNNING"}
            ],
        )

    mc.on_state(waiting(2), later(2))
    mc.on_state(waiting(30), later(30))
    assert published(mc.tick(later(61))) == []  # 59 s of waiting: not yet
    out = mc.tick(later(62))
    assert [i.kind for i in of_type(out, Incident)] == [IncidentKind.WAIT_FOR_TRIGGER_TIMEOUT]
    cancel = published(out, Topic.INSTANT_ACTIONS)
    assert [a["actionType"] for m in cancel for a in m["actions"]] == ["cancelOrder"]
    assert not of_type(mc.tick(later(200)), Incident)  # once
