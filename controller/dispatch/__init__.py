"""Dispatch for a fleet of hundreds of AGVs (issue 5), pure: numpy and scipy, no I/O.

Each tick a `Dispatcher` is shown the fleet (`AgvSnapshot`) and the tasks waiting for an
AGV (`PickTask`) and answers with `Decisions`: trips of one or more totes, chargers, parking.
`MinCostDispatcher` is the product.
Distances come from the floor through the `DistanceTables` protocol.
"""

from controller.dispatch.decisions import Decisions, SendToCharge, SendToPark, TripAssignment
from controller.dispatch.dispatcher import MinCostDispatcher
from controller.dispatch.policy import DispatchPolicy
from controller.dispatch.ports import Dispatcher, DistanceTables
from controller.dispatch.snapshots import AgvSnapshot, PickTask

__all__ = [
    "AgvSnapshot",
    "Decisions",
    "DispatchPolicy",
    "Dispatcher",
    "DistanceTables",
    "MinCostDispatcher",
    "PickTask",
    "SendToCharge",
    "SendToPark",
    "TripAssignment",
]
