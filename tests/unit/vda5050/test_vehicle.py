"""Checklist sections B (incoming), F, G, H, I: the MC's view of an AGV (items 7, 10, 13, 48,
54-60, 65, 66, 70, 71, 73)."""

from __future__ import annotations

from datetime import timedelta

from controller.vda5050.events import (
    IllegalActionTransition,
    MessageIgnored,
    OrderCompleted,
    OrderFailed,
    Publish,
)
from controller.vda5050.headers import Topic
from controller.vda5050.ids import counter_ids
from controller.vda5050.master import AgvMaster
from controller.vda5050.vehicle import Blocker
from tests.unit.vda5050.samples import (
    ADDRESS,
    NOW,
    ROUTE,
    connection,
    factsheet,
    later,
    of_type,
    online_master,
    order_state,
    published,
    state,
)


def test_mc_07_retained_connection_and_factsheet_count_as_current() -> None:
    mc = online_master()
    assert mc.vehicle.online
    # After a resubscribe the broker hands back the retained ONLINE, older than what we saw.
    mc.on_connection(connection("CONNECTIONBROKEN", header_id=9, at=later(10)), later(10))
    mc.on_connection(connection("ONLINE", header_id=3, at=NOW), later(11))
    assert mc.vehicle.online
    old_sheet = factsheet(timing={"minOrderInterval": 1.5, "minStateInterval": 0.5})
    old_sheet["headerId"], old_sheet["timestamp"] = 0, "2020-01-01T00:00:00.00Z"
    mc.on_factsheet(old_sheet, later(12))
    assert mc.vehicle.capabilities.min_order_interval == timedelta(seconds=1.5)


def test_mc_10_header_id_gaps_and_restarts_are_tolerated() -> None:
    mc = online_master()
    assert not of_type(mc.on_state(state(50, later(1), lastNodeId="A"), later(1)), MessageIgnored)
    assert mc.vehicle.state is not None
    assert mc.vehicle.state.last_node_id == "A"  # gap 1 → 50
    rebooted = state(0, later(2), lastNodeId="B")  # counter restarted, newer timestamp
    assert not of_type(mc.on_state(rebooted, later(2)), MessageIgnored)
    assert mc.vehicle.state.last_node_id == "B"
    late = state(49, later(1.5), lastNodeId="C")  # headerId newer than 0, timestamp older
    mc.on_state(late, later(3))
    assert mc.vehicle.state.last_node_id == "C"  # only dropped when both say "older"
    replayed = state(10, later(0.5), lastNodeId="D")
    assert of_type(mc.on_state(replayed, later(4)), MessageIgnored)
    assert mc.vehicle.state.last_node_id == "C"


def test_mc_13_a_state_naming_another_vehicle_is_flagged_and_not_processed() -> None:
    mc = online_master()
    stray = state(2, later(1), lastNodeId="X") | {"serialNumber": "agv-002"}
    out = mc.on_state(stray, later(1))
    assert [(e.topic, e.reason) for e in of_type(out, MessageIgnored)] == [
        (Topic.STATE, "header names acme/agv-002")
    ]
    assert mc.vehicle.state is not None
    assert mc.vehicle.state.last_node_id == "N-PARK-03"
    assert mc.vehicle.ignored_messages == 1
    wrong = connection("OFFLINE") | {"manufacturer": "other"}
    assert of_type(mc.on_connection(wrong, later(2)), MessageIgnored)
    assert mc.vehicle.online


def test_mc_48_an_agv_without_state_for_30_s_plus_margin_is_stale() -> None:
    mc = online_master()
    assert mc.readiness(later(35)).ready
    assert mc.readiness(later(35.1)).blockers == (Blocker.STALE,)
    fast = online_master(
        sheet=factsheet(
            timing={"minOrderInterval": 0, "minStateInterval": 0.5, "defaultStateInterval": 10}
        )
    )
    assert fast.readiness(later(15)).ready
    assert Blocker.STALE in fast.readiness(later(15.1)).blockers
    never = AgvMaster(ADDRESS)
    assert never.readiness(NOW).blockers == (Blocker.NO_STATE,)


def test_mc_54_all_action_statuses_are_accepted_and_illegal_transitions_logged() -> None:
    mc = online_master()
    statuses = ["WAITING", "INITIALIZING", "RUNNING", "PAUSED", "FINISHED", "FAILED"]
    first = state(
        2,
        later(1),
        actionStates=[
            {"actionId": f"a{i}", "actionType": "pick", "actionStatus": s}
            for i, s in enumerate(statuses)
        ],
    )
    assert not of_type(mc.on_state(first, later(1)), IllegalActionTransition)
    after = state(
        3,
        later(2),
        actionStates=[
            {"actionId": "a0", "actionType": "pick", "actionStatus": "RUNNING"},  # skipped init
            {"actionId": "a3", "actionType": "pick", "actionStatus": "RUNNING"},  # resumed
            {"actionId": "a4", "actionType": "pick", "actionStatus": "RUNNING"},  # FINISHED→
            {"actionId": "a2", "actionType": "pick", "actionStatus": "WAITING"},  # back
        ],
    )
    illegal = of_type(mc.on_state(after, later(2)), IllegalActionTransition)
    assert [(e.action_id, e.before, e.after) for e in illegal] == [
        ("a4", "FINISHED", "RUNNING"),
        ("a2", "RUNNING", "WAITING"),
    ]
    assert mc.vehicle.state is not None  # logged, not dropped
    assert mc.vehicle.action_status("a4") == "RUNNING"


def test_mc_55_missing_loads_are_unknown_and_an_empty_list_is_empty() -> None:
    assert online_master().vehicle.loads is None
    assert online_master(loads=[]).vehicle.loads == ()
    carrying = online_master(loads=[{"loadId": "TOTE-000123", "loadType": "TOTE-600x400"}])
    assert carrying.vehicle.loads is not None
    assert [ld.load_id for ld in carrying.vehicle.loads] == ["TOTE-000123"]


def test_mc_56_the_position_is_ignored_while_not_initialized() -> None:
    lost = {"x": 99.0, "y": 99.0, "theta": 0.0, "mapId": "wh-floor-1", "positionInitialized": False}
    mc = online_master(agvPosition=lost, lastNodeId="")
    assert mc.vehicle.position is None
    assert mc.vehicle.state is not None
    assert mc.vehicle.state.position is not None  # kept raw, never used
    assert online_master().vehicle.position is not None


def test_mc_57_information_never_drives_decisions() -> None:
    loud = [
        {"infoType": "FATAL", "infoLevel": "INFO", "infoDescription": "charging now, not ready"},
        {"infoType": "orderFailed", "infoLevel": "DEBUG"},
    ]
    quiet, noisy = online_master(), online_master(information=loud)
    assert noisy.readiness(later(1)) == quiet.readiness(later(1))
    assert published(noisy.send_order("o-1", ROUTE, released=3, now=later(1)))


def test_mc_58_fatal_is_not_dispatchable_and_warnings_are_surfaced() -> None:
    warning = {"errorType": "lowBattery", "errorLevel": "WARNING"}
    mc = online_master(errors=[warning])
    ready = mc.readiness(later(1))
    assert ready.ready
    assert [w.error_type for w in ready.warnings] == ["lowBattery"]
    fatal = online_master(errors=[warning, {"errorType": "driveFault", "errorLevel": "FATAL"}])
    assert fatal.readiness(later(1)).blockers == (Blocker.FATAL_ERROR,)
    assert not published(fatal.send_order("o-1", ROUTE, released=3, now=later(1)))


def test_mc_59_a_charging_agv_only_takes_a_charging_order() -> None:
    battery = {"batteryCharge": 30.0, "charging": True}
    mc = online_master(batteryState=battery)
    assert mc.readiness(later(1)).blockers == (Blocker.CHARGING,)
    assert not published(mc.send_order("o-1", ROUTE, released=3, now=later(1)))
    assert mc.readiness(later(1), charging_order=True).ready
    assert published(
        mc.send_order("charge-1", ROUTE[:1], released=1, now=later(1), charging_order=True)
    )


def test_mc_60_emergency_stop_and_field_violation_halt_without_failing_the_order() -> None:
    mc = online_master()
    order = published(mc.send_order("o-1", ROUTE, released=3, now=later(1)))[0]
    mc.on_state(order_state(order, 2, later(2)), later(2))
    safety_events = (
        {"eStop": "MANUAL", "fieldViolation": False},
        {"eStop": "NONE", "fieldViolation": True},
    )
    for n, safety in enumerate(safety_events):
        t = 3 + 2 * n
        out = mc.on_state(order_state(order, t, later(t), safetyState=safety), later(t))
        assert mc.vehicle.halted
        assert Blocker.HALTED in mc.readiness(later(t)).blockers
        assert not of_type(out, OrderFailed)
        mc.on_state(order_state(order, t + 1, later(t + 1)), later(t + 1))
        assert not mc.vehicle.halted


def test_mc_65_errors_are_correlated_with_the_order_and_action_they_reference() -> None:
    mc = online_master()
    order = published(mc.send_order("o-1", ROUTE, released=3, now=later(1)))[0]
    pick = order["nodes"][2]["actions"][0]["actionId"]
    errors = [
        {
            "errorType": "loadNotFound",
            "errorLevel": "WARNING",
            "errorReferences": [{"referenceKey": "actionId", "referenceValue": pick}],
        },
        {
            "errorType": "noRoute",
            "errorLevel": "WARNING",
            "errorReferences": [{"referenceKey": "orderId", "referenceValue": "o-1"}],
        },
        {
            "errorType": "other",
            "errorLevel": "WARNING",
            "errorReferences": [{"referenceKey": "orderId", "referenceValue": "o-0"}],
        },
        {"errorType": "lowBattery", "errorLevel": "WARNING"},
    ]
    mc.on_state(order_state(order, 2, later(2), errors=errors), later(2))
    by_action = mc.vehicle.errors_about(action_ids=frozenset({pick}))
    assert [e.error_type for e in by_action] == ["loadNotFound"]
    by_order = mc.vehicle.errors_about(order_id="o-1", action_ids=frozenset({pick}))
    assert [e.error_type for e in by_order] == ["loadNotFound", "noRoute"]


def test_mc_66_order_failure_is_derived_from_failed_actions_or_fatal_errors() -> None:
    def run() -> tuple[AgvMaster, dict]:
        mc = online_master()
        order = published(mc.send_order("o-1", ROUTE, released=4, now=later(1)))[0]
        mc.on_state(order_state(order, 2, later(2)), later(2))
        return mc, order

    mc, order = run()
    failed = order_state(order, 3, later(3))
    failed["actionStates"][0]["actionStatus"] = "FAILED"
    out = mc.on_state(failed, later(3))
    assert [f.reasons for f in of_type(out, OrderFailed)] == [
        (f"action {failed['actionStates'][0]['actionId']} FAILED",)
    ]
    assert not of_type(mc.on_state(failed | {"headerId": 4}, later(4)), OrderFailed)  # once
    mc, order = run()
    fatal = {
        "errorType": "pathBlocked",
        "errorLevel": "FATAL",
        "errorDescription": "obstacle",
        "errorReferences": [{"referenceKey": "orderId", "referenceValue": "o-1"}],
    }
    out = mc.on_state(order_state(order, 3, later(3), errors=[fatal]), later(3))
    assert [f.reasons for f in of_type(out, OrderFailed)] == [("pathBlocked: obstacle",)]
    mc, order = run()  # every action FINISHED and nothing left: completed, not failed
    done = state(
        3,
        later(3),
        orderId="o-1",
        lastNodeId="N-SORTER-IN-2",
        lastNodeSequenceId=6,
        actionStates=[
            dict(a, actionStatus="FINISHED") for a in order_state(order, 0, NOW)["actionStates"]
        ],
    )
    out = mc.on_state(done, later(3))
    assert of_type(out, OrderCompleted)
    assert not of_type(out, OrderFailed)


def test_mc_70_offline_is_not_dispatchable_but_keeps_its_base() -> None:
    mc = online_master()
    order = published(mc.send_order("o-1", ROUTE, released=3, now=later(1)))[0]
    mc.on_state(order_state(order, 2, later(2)), later(2))
    reserved = mc.vehicle.reserved_nodes()
    assert reserved == ("N-PARK-03", "N-AISLE-07", "N-RACK-07-12")
    mc.on_connection(connection("CONNECTIONBROKEN", 2, NOW), later(3))
    assert Blocker.OFFLINE in mc.readiness(later(3)).blockers
    assert mc.vehicle.reserved_nodes() == reserved
    assert mc.order is not None
    assert mc.order.accepting_updates  # the order lives on: the AGV keeps driving its base
    assert mc.tick(later(100)) == []
    # ONLINE alone is no health check: with a stale state the AGV is still not ready.
    mc.on_connection(connection("ONLINE", 4, later(100)), later(100))
    assert mc.readiness(later(100)).blockers == (Blocker.STALE,)


def test_mc_71_the_last_wills_stale_header_is_accepted() -> None:
    mc = online_master()  # ONLINE with headerId 3 at NOW
    will = connection("CONNECTIONBROKEN", header_id=2, at=NOW - timedelta(hours=3))
    assert not of_type(mc.on_connection(will, later(5)), MessageIgnored)
    assert not mc.vehicle.online


def test_mc_73_the_factsheet_is_requested_when_an_agv_comes_online_without_one() -> None:
    mc = AgvMaster(ADDRESS, new_id=counter_ids())
    out = mc.on_connection(connection(), NOW)
    types = [a["actionType"] for m in published(out) for a in m["actions"]]
    assert types == ["stateRequest", "factsheetRequest"]
    mc.on_connection(connection("OFFLINE", 4), later(1))
    again = published(mc.on_connection(connection("ONLINE", 5), later(2)))
    assert [a["actionType"] for m in again for a in m["actions"]] == ["stateRequest"]
    known = AgvMaster(ADDRESS, new_id=counter_ids())
    known.on_factsheet(factsheet(), NOW)  # the retained factsheet came first
    out = known.on_connection(connection(), NOW)
    assert [a["actionType"] for m in published(out) for a in m["actions"]] == ["stateRequest"]
    assert all(isinstance(o, Publish) for o in out)
