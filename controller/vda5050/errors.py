"""Errors of the VDA 5050 core: broken invariants of what we were asked to build or read."""

from __future__ import annotations

from controller.domain.errors import WarehouseError


class Vda5050Error(WarehouseError):
    """Base of the VDA 5050 core's errors."""


class InvalidTopicLevel(Vda5050Error):
    """A topic level (interface name, manufacturer, serial number) cannot be used (item 3)."""

    def __init__(self, level: str, value: str, problem: str) -> None:
        super().__init__(f"topic level {level} {value!r}: {problem}")
        self.level = level
        self.value = value
        self.problem = problem


class InvalidId(Vda5050Error):
    """An orderId/nodeId/edgeId/actionId breaks the id rules (item 15)."""

    def __init__(self, what: str, value: str, problem: str) -> None:
        super().__init__(f"{what} {value!r}: {problem}")
        self.what = what
        self.value = value
        self.problem = problem


class InvalidOrder(Vda5050Error):
    """An order or update we were asked to build would break the protocol (items 17-37)."""

    def __init__(self, order_id: str, problem: str) -> None:
        super().__init__(f"order {order_id!r}: {problem}")
        self.order_id = order_id
        self.problem = problem


class InvalidInstantAction(Vda5050Error):
    """An instant action we were asked to send is not allowed as one (items 26, 27, 41)."""

    def __init__(self, action_type: str, problem: str) -> None:
        super().__init__(f"instant action {action_type!r}: {problem}")
        self.action_type = action_type
        self.problem = problem


class MalformedMessage(Vda5050Error):
    """An incoming message lacks a field we rely on or has it with the wrong type."""

    def __init__(self, topic: str, where: str, problem: str) -> None:
        super().__init__(f"{topic}: {where}: {problem}")
        self.topic = topic
        self.where = where
        self.problem = problem
