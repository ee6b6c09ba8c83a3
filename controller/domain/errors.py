"""Exceptions for broken invariants and refused requests. Expected outcomes are events."""

from __future__ import annotations


class WarehouseError(Exception):
    """Base of every error the controller raises on purpose."""


class SiteConfigError(WarehouseError):
    """A site config is invalid; `field` is the dotted path of the offending value."""

    def __init__(self, source: str, field: str, problem: str) -> None:
        super().__init__(f"{source}: {field}: {problem}")
        self.source = source
        self.field = field
        self.problem = problem


class InvalidTransition(WarehouseError):
    """An order (or task) was asked to move to a status it cannot reach from where it is."""

    def __init__(self, entity_id: str, current: str, requested: str) -> None:
        super().__init__(f"{entity_id}: cannot go from {current} to {requested}")
        self.entity_id = entity_id
        self.current = current
        self.requested = requested


class InvalidEpc(WarehouseError):
    """An EPC could not be decoded: bad hex, wrong length, or an out-of-range field."""

    def __init__(self, epc: str, problem: str) -> None:
        super().__init__(f"EPC {epc!r}: {problem}")
        self.epc = epc
        self.problem = problem


class InvalidQuantity(WarehouseError):
    """A quantity that cannot be: zero or negative where a positive one is needed, or more
    than there is. `what` names the quantity (`"line qty"`, `"available at A1-01"`)."""

    def __init__(self, what: str, qty: int) -> None:
        super().__init__(f"invalid {what}: {qty}")
        self.what = what
        self.qty = qty


class EpcNotEncodable(WarehouseError):
    """A GS1 key (or serial, prefix length, filter) cannot be written into the asked EPC scheme."""

    def __init__(self, scheme: str, value: str, problem: str) -> None:
        super().__init__(f"{scheme}: {value!r}: {problem}")
        self.scheme = scheme
        self.value = value
        self.problem = problem
