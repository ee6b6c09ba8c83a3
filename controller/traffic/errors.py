"""Calls the reservation kernel refuses because the caller got something wrong. What a
planner may get wrong (a bad path) is a refused grant instead, never an exception."""

from __future__ import annotations

from controller.domain.errors import WarehouseError


class TrafficError(WarehouseError):
    """Base of the traffic kernel's errors."""


class UnknownAgv(TrafficError):
    def __init__(self, agv_id: str) -> None:
        super().__init__(f"AGV {agv_id!r} is not on the floor (place it first)")
        self.agv_id = agv_id


class AgvAlreadyPlaced(TrafficError):
    """`place` is for an AGV the kernel does not know; a known one reports with `confirm`."""

    def __init__(self, agv_id: str, node: int) -> None:
        super().__init__(f"AGV {agv_id!r} is already on the floor, at node {node}")
        self.agv_id = agv_id
        self.node = node


class UnknownNode(TrafficError):
    def __init__(self, node: int) -> None:
        super().__init__(f"no node {node} on the floor")
        self.node = node


class UnknownEdge(TrafficError):
    def __init__(self, a: int, b: int) -> None:
        super().__init__(f"no edge between nodes {a} and {b}")
        self.a = a
        self.b = b


class AgvOffline(TrafficError):
    """Its allocation may not be dropped: an AGV out of contact may still be driving its
    released base (VDA 5050 §6.14), and a cancelOrder would not reach it."""

    def __init__(self, agv_id: str) -> None:
        super().__init__(f"AGV {agv_id!r} is offline: its allocation stays")
        self.agv_id = agv_id


class AgvFailed(TrafficError):
    """Its allocation may not be dropped: a failed AGV may have stopped anywhere on its
    base, so every node it holds may be under it."""

    def __init__(self, agv_id: str) -> None:
        super().__init__(f"AGV {agv_id!r} has failed: its allocation stays")
        self.agv_id = agv_id
