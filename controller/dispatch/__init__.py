"""Dispatch for a fleet of hundreds of AGVs (issue 5), pure: numpy and scipy, no I/O.

Each tick a `Dispatcher` is shown the fleet (`AgvSnapshot`) and the tasks waiting for an
AGV (`PickTask`) and answers with `Decisions`: trips of one or more totes, chargers, parking.
`MinCostDispatcher` is the product; `baselines.py` holds the two it is measured against.
Distances come from the floor through the `DistanceTables` protocol.
"""

from controller.dispatch.baselines import DistanceBlindGreedy, NearestIdleGreedy
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
    "DistanceBlindGreedy",
    "DistanceTables",
    "MinCostDispatcher",
    "NearestIdleGreedy",
    "PickTask",
    "SendToCharge",
    "SendToPark",
    "TripAssignment",
]
