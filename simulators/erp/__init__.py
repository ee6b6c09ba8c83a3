"""A simulated ERP: pushes released orders to the central API."""

from simulators.erp.client import OrderPushError, push_orders
from simulators.erp.orders import build_orders

__all__ = ["OrderPushError", "build_orders", "push_orders"]
