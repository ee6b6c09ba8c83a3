"""The edge's fleet snapshots: built from what the AGV sent, in the API's own schema, and sent
when they change or have not been sent for a while."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from api.fleet.schemas import AgvStatus
from controller.domain.fleet import Agv
from controller.domain.layout import AgvSpec
from controller.service.agv_link import agv_state, master_for
from controller.vda5050.vehicle import STALE_MARGIN, STATE_INTERVAL
from edge.codecs.fleet import agv_status
from edge.fleet import REFRESH, FleetReporter
from tests.vda5050_schemas import problems

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
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


_header_ids = itertools.count(100)


def feed(agv: Agv, state: dict[str, Any], at: datetime) -> None:
    """The AGV sends `state` (with a fresh headerId, as a vehicle's counter rises)."""
    assert problems("state", state) == []
    agv.master.on_state(state | {"headerId": next(_header_ids)}, at)
    agv.state = agv_state(agv.master.vehicle)


DRIVING = STATE | {
    "orderUpdateId": 2,
    "nodeStates": [
        {"nodeId": "F01", "sequenceId": 6, "released": True},
        {"nodeId": "ST1", "sequenceId": 8, "released": True},
    ],
    "edgeStates": [
        {"edgeId": "A1-01_F01", "sequenceId": 5, "released": True},
        {"edgeId": "F01_ST1", "sequenceId": 7, "released": True},
    ],
    "driving": True,
    "paused": False,
    "agvPosition": {"x": 6.5, "y": 4.0, "theta": 0.5, "mapId": "demo", "positionInitialized": True},
    "batteryState": {"batteryCharge": 42.0, "charging": False},
    "errors": [
        {
            "errorType": "lowBattery",
            "errorLevel": "WARNING",
            "errorDescription": "below 45 %",
            "errorReferences": [{"referenceKey": "orderId", "referenceValue": "demo-1"}],
        }
    ],
    "safetyState": {"eStop": "NONE", "fieldViolation": False},
}


def new_agv(serial: str = "AGV-01") -> Agv:
    return Agv(serial, "simbotics", master_for(AgvSpec(serial, "simbotics", "P1", 1.5), "t"))


def online_agv(state: dict[str, Any] = DRIVING, at: datetime = NOW) -> Agv:
    agv = new_agv()
    online = {k: STATE[k] for k in ("timestamp", "version", "manufacturer", "serialNumber")}
    agv.master.on_connection(online | {"headerId": 1, "connectionState": "ONLINE"}, at)
    feed(agv, state, at)
    agv.task_id = "demo-1"
    return agv


def test_a_snapshot_carries_what_an_operator_needs_in_the_api_schema() -> None:
    body = agv_status(online_agv(), NOW + timedelta(seconds=1))
    status = AgvStatus.model_validate(body)  # the contract: what the API accepts
    assert status.connection == "ONLINE"
    assert status.operating_mode == "AUTOMATIC"
    assert (status.driving, status.paused, status.e_stop) == (True, False, "NONE")
    assert status.battery is not None
    assert (status.battery.charge, status.battery.charging) == (42.0, False)
    assert status.position is not None
    assert (status.position.x, status.position.y, status.position.map_id) == (6.5, 4.0, "demo")
    assert status.order is not None
    assert status.order.model_dump() == {
        "order_id": "demo-1",
        "order_update_id": 2,
        "task_id": "demo-1",
        "nodes_left": 2,
        "edges_left": 2,
        "actions_finished": 1,
        "actions_total": 2,
    }
    assert [(e.error_type, e.level, e.references) for e in status.errors] == [
        ("lowBattery", "WARNING", {"orderId": "demo-1"})
    ]
    assert status.stale is False
    assert status.dispatchable is False  # it has a task


def test_a_position_not_initialised_is_not_shown() -> None:
    unsure = DRIVING | {"agvPosition": DRIVING["agvPosition"] | {"positionInitialized": False}}
    assert agv_status(online_agv(unsure), NOW)["position"] is None


def test_an_agv_never_heard_from_is_offline_and_stale() -> None:
    body = agv_status(new_agv("AGV-02"), NOW)
    status = AgvStatus.model_validate(body)
    assert (status.connection, status.stale, status.dispatchable) == ("OFFLINE", True, False)
    assert (status.state_at, status.battery, status.order) == (None, None, None)


def test_silence_beyond_the_state_interval_makes_it_stale() -> None:
    agv = online_agv()
    silent = STATE_INTERVAL + STALE_MARGIN
    assert agv_status(agv, NOW + silent)["stale"] is False
    assert agv_status(agv, NOW + silent + timedelta(seconds=1))["stale"] is True


def test_a_battery_reading_out_of_range_is_clamped_not_refused() -> None:
    wild = DRIVING | {"batteryState": {"batteryCharge": 100.4, "charging": True}}
    status = AgvStatus.model_validate(agv_status(online_agv(wild), NOW))
    assert status.battery is not None
    assert status.battery.charge == 100.0


def test_snapshots_are_sent_when_they_change_and_refreshed_when_they_do_not() -> None:
    reporter = FleetReporter()
    agv = online_agv()
    first = reporter.due([agv], NOW)
    assert [b["serial_number"] for b in first] == ["AGV-01"]
    reporter.sent(first, NOW)
    assert reporter.due([agv], NOW + timedelta(seconds=2)) == []
    feed(agv, STATE, NOW + timedelta(seconds=3))  # it arrived
    changed = reporter.due([agv], NOW + timedelta(seconds=4))
    assert [b["last_node_id"] for b in changed] == ["A1-01"]
    reporter.sent(changed, NOW + timedelta(seconds=4))
    assert reporter.due([agv], NOW + timedelta(seconds=4) + REFRESH - timedelta(seconds=1)) == []
    assert len(reporter.due([agv], NOW + timedelta(seconds=4) + REFRESH)) == 1


def test_a_push_that_failed_is_due_again() -> None:
    reporter = FleetReporter()
    agv = online_agv()
    assert len(reporter.due([agv], NOW)) == 1  # not marked sent: the push failed
    assert len(reporter.due([agv], NOW + timedelta(seconds=2))) == 1


IDLE = STATE | {
    "actionStates": [dict(a, actionStatus="FINISHED") for a in STATE["actionStates"]],
    "agvPosition": DRIVING["agvPosition"],
}


def idle_agv(**changes: Any) -> Agv:
    agv = online_agv(IDLE | changes)
    agv.task_id = None
    return agv


def test_an_idle_agv_in_automatic_mode_is_dispatchable() -> None:
    assert idle_agv().dispatchable(NOW)


def test_an_agv_still_carrying_a_load_is_not_dispatchable() -> None:
    """Every task starts with a pick, which a loaded AGV fails; `loads` left out means
    unknown (CHECKLIST 55), not loaded."""
    tote = {"loadId": "TOTE-0001", "loadType": "TOTE", "loadPosition": "LHD1"}
    assert not idle_agv(loads=[tote]).dispatchable(NOW)
    assert idle_agv(loads=[]).dispatchable(NOW)
    assert "loads" not in IDLE
    assert idle_agv().dispatchable(NOW)


def test_charging_paused_or_halted_agvs_are_not_dispatchable() -> None:
    """CHECKLIST 46, 59 and 60: each would take an order and stand still (the master
    control's readiness is the one rule for the dispatcher and the fleet view)."""
    assert not idle_agv(batteryState={"batteryCharge": 30.0, "charging": True}).dispatchable(NOW)
    assert not idle_agv(paused=True).dispatchable(NOW)
    for e_stop in ("AUTOACK", "MANUAL", "REMOTE"):
        halted = idle_agv(safetyState={"eStop": e_stop, "fieldViolation": False})
        assert not halted.dispatchable(NOW)
    blocked = idle_agv(safetyState={"eStop": "NONE", "fieldViolation": True})
    assert not blocked.dispatchable(NOW)
