"""Helpers of the site controller's tests: AGVs online, orders, an AGV finishing actions."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from controller.domain.layout import Site
from controller.domain.messages import (
    Allocation,
    ReleasedLine,
    ReleasedOrder,
    Report,
    ReportType,
)
from controller.service.site_controller import Output, SiteController
from controller.vda5050.events import Publish
from tests.vda5050_schemas import problems

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
PREFIX_LEN = 7  # the demo site's company prefix 0614141


_header_ids = itertools.count(1)


def next_header_id() -> int:
    """Rising across every message the tests make up, as a vehicle's own counter does."""
    return next(_header_ids)


def _header(serial: str) -> dict[str, Any]:
    return {
        "headerId": next_header_id(),  # rising, as a vehicle's own counter does
        "timestamp": "2026-11-22T10:00:00.00Z",
        "version": "2.1.0",
        "manufacturer": "simbotics",
        "serialNumber": serial,
    }


def connection(serial: str, state: str = "ONLINE") -> dict[str, Any]:
    message = _header(serial) | {"connectionState": state}
    assert problems("connection", message) == []
    return message


def state(
    serial: str,
    node: str,
    *,
    order_id: str = "",
    order_update_id: int = 0,
    actions: list[dict[str, Any]] | None = None,
    nodes_left: Sequence[str] = (),
    errors: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A VDA 5050 2.1 state, schema-valid; `nodes_left` are the nodes still ahead."""
    message = (
        _header(serial)
        | {
            "orderId": order_id,
            "orderUpdateId": order_update_id,
            "lastNodeId": node,
            "lastNodeSequenceId": 0,
            "nodeStates": [
                {"nodeId": n, "sequenceId": 2 * (i + 1), "released": True}
                for i, n in enumerate(nodes_left)
            ],
            "edgeStates": [
                {"edgeId": f"e{i}", "sequenceId": 2 * i + 1, "released": True}
                for i in range(len(nodes_left))
            ],
            "driving": False,
            "paused": False,
            "actionStates": actions or [],
            "batteryState": {"batteryCharge": 90.0, "charging": False},
            "operatingMode": "AUTOMATIC",
            "errors": errors or [],
            "safetyState": {"eStop": "NONE", "fieldViolation": False},
            "agvPosition": {
                "x": 0.0,
                "y": 0.0,
                "theta": 0.0,
                "mapId": "demo",
                "positionInitialized": True,
            },
        }
        | extra
    )
    assert problems("state", message) == []
    return message


def idle(serial: str, node: str) -> dict[str, Any]:
    return state(serial, node)


@dataclass(frozen=True)
class AgvOrder:
    """A VDA 5050 order the controller published, as the tests look at it."""

    serial_number: str
    order_id: str
    order_update_id: int
    nodes: tuple[str, ...]
    actions: tuple[dict[str, Any], ...]  # each with its node's index as "node_index"
    released: int  # how many of `nodes` are released (the base); the rest is the horizon

    def action(self, action_type: str) -> dict[str, Any]:
        return next(a for a in self.actions if a["actionType"] == action_type)

    def load_id(self) -> str:
        params = {p["key"]: p["value"] for p in self.actions[0]["actionParameters"]}
        return str(params["loadId"])


def agv_orders(outputs: list[Output]) -> list[AgvOrder]:
    """The orders among `outputs`, each checked against the 2.1.0 schema."""
    found = []
    for o in outputs:
        if isinstance(o, Publish) and o.topic.value == "order":
            message = o.message
            assert problems("order", message) == []
            found.append(
                AgvOrder(
                    message["serialNumber"],
                    message["orderId"],
                    message["orderUpdateId"],
                    tuple(n["nodeId"] for n in message["nodes"]),
                    tuple(
                        a | {"node_index": i}
                        for i, n in enumerate(message["nodes"])
                        for a in n["actions"]
                    ),
                    sum(1 for n in message["nodes"] if n["released"]),
                )
            )
    return found


def instant_actions(outputs: list[Output]) -> list[str]:
    """The action types of the instantActions among `outputs`."""
    return [
        a["actionType"]
        for o in outputs
        if isinstance(o, Publish) and o.topic.value == "instantActions"
        for a in o.message["actions"]
    ]


def of(outputs: list[Output], kind: type) -> list:
    return [o for o in outputs if isinstance(o, kind)]


def reports(outputs: list[Output]) -> list[ReportType]:
    return [r.type for r in of(outputs, Report)]


def bring_online(ctl: SiteController, now: datetime = T0) -> None:
    for agv in ctl.site.agvs:
        ctl.agv_connection(agv.serial_number, connection(agv.serial_number), now)
        ctl.agv_state(agv.serial_number, idle(agv.serial_number, agv.start_node), now)


def one_line_order(
    site: Site, order_id: str = "SO-1", qty: int = 2, sku_index: int = 0
) -> ReleasedOrder:
    sku = site.skus[sku_index]
    location = sku.bins[0]
    return ReleasedOrder(
        order_id,
        5,
        "DHL",
        (
            ReleasedLine(
                "10",
                sku.sku,
                sku.gtin,
                qty,
                (Allocation(location.node, location.tote_id, qty),),
            ),
        ),
    )


def progress(order: AgvOrder, *done: str, failed: str = "", **extra: Any) -> dict[str, Any]:
    """The AGV's state on `order` with the actions of `done` FINISHED, the one of `failed`
    FAILED, and the others WAITING; standing at the last action done."""
    statuses = {a["actionType"]: "WAITING" for a in order.actions}
    statuses.update(dict.fromkeys(done, "FINISHED"))
    if failed:
        statuses[failed] = "FAILED"
    actions = [
        {
            "actionId": a["actionId"],
            "actionType": a["actionType"],
            "actionStatus": statuses[a["actionType"]],
        }
        for a in order.actions
    ]
    complete = "drop" in done or bool(failed)
    picked_at = next((a["node_index"] for a in order.actions if a["actionType"] == "pick"), 0)
    at = len(order.nodes) - 1 if "drop" in done else picked_at
    if failed:
        at = 0
    return state(
        order.serial_number,
        order.nodes[at],
        order_id=order.order_id,
        order_update_id=order.order_update_id,
        actions=actions,
        nodes_left=[] if complete else list(order.nodes[at + 1 :]),
        **extra,
    )
