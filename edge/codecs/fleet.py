"""The fleet snapshot of one AGV for the central API (docs/protocols.md, "Fleet status"):
what the edge last heard from the vehicle, snake_case JSON as `api.fleet.schemas.AgvStatus`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from controller.domain.fleet import Agv
from controller.domain.messages import FINAL_ACTION_STATUSES
from edge.codecs.common import utc_timestamp


def agv_status(agv: Agv, now: datetime) -> dict[str, Any]:
    """An AGV not heard from yet shows as OFFLINE: that is how the edge treats it."""
    state = agv.state
    body: dict[str, Any] = {
        "serial_number": agv.serial_number,
        "manufacturer": agv.manufacturer,
        # Microseconds: the API keeps the newest snapshot by this time.
        "observed_at": utc_timestamp(now, digits=6),
        "connection": agv.connection.value,
        "state_at": utc_timestamp(agv.state_at, digits=6) if agv.state_at else None,
        "stale": agv.stale(now),
        "dispatchable": agv.dispatchable(now),
        "errors": [],
    }
    if state is None:
        return body
    actions = state.action_states
    return body | {
        "operating_mode": state.operating_mode,
        "driving": state.driving,
        "paused": state.paused,
        "e_stop": state.e_stop,
        # A vehicle reporting out of range is shown at the range's end, not refused whole.
        "battery": {
            "charge": min(100.0, max(0.0, state.battery_charge)),
            "charging": state.charging,
        },
        "position": (
            None
            if state.position is None
            else {
                "x": state.position.x,
                "y": state.position.y,
                "theta": state.position.theta,
                "map_id": state.position.map_id,
            }
        ),
        "last_node_id": state.last_node_id,
        "order": (
            None
            if not state.order_id
            else {
                "order_id": state.order_id,
                "order_update_id": state.order_update_id,
                "task_id": agv.task_id,
                "nodes_left": state.open_nodes,
                "edges_left": state.open_edges,
                "actions_finished": sum(a.status in FINAL_ACTION_STATUSES for a in actions),
                "actions_total": len(actions),
            }
        ),
        "errors": [
            {
                "error_type": e.error_type,
                "level": e.level,
                "description": e.description,
                "references": dict(e.references),
            }
            for e in state.errors
        ],
    }
