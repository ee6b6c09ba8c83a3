"""Several totes per trip: each assigned trip takes further tasks on a cheap detour.

A trip's route is: AGV → pickup 1 → … → pickup k → station 1 → … → station m (every pickup
before any drop; a station appears once, in the order first needed). After the assignment,
the trips take turns (round robin, one tote per turn, so no trip takes all the good ones)
and each adds the waiting candidate whose insertion costs fewest extra metres, if:

- it has room: fewer totes than its free capacity (capacity - carrying, at most
  max_totes_per_trip);
- the detour is cheap: the extra metres (the pickup inserted where it adds least, anywhere
  between the AGV and the first station; plus, if its station is not on the route yet,
  the drive from the last station to it) are at most detour_ratio * the tote's own drive
  from its pickup to its station. Any trip dedicated to the tote drives that leg loaded
  and an approach besides, so at ratio 1 the detour always costs less driving. (Comparing
  with a round trip from the station would accept every tote: by the triangle inequality
  fetching it on the way back never costs more than that.);
- no task of the trip that would be on time is made late by the extra driving;
- the battery still reaches the nearest charger from the last station with its reserve.

The candidates for each insertion are compared in one vectorised step; the loop is over
trips and the few insertion positions only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from controller.dispatch.fleet import Workers
from controller.dispatch.geometry import TripGeometry
from controller.dispatch.policy import DispatchPolicy
from controller.dispatch.tasks import TaskArrays


@dataclass
class Trip:
    """One AGV's trip while it is being built; task and station numbers index the tick's
    candidate tasks and their `stations`."""

    worker: int
    tasks: list[int]  # in pickup order
    stations: list[int]  # in visiting order
    station_arrival_m: list[float] = field(default_factory=list)  # metres along the route
    room: int = 0  # totes it may still take

    @property
    def length_m(self) -> float:
        return self.station_arrival_m[-1]


def start_trips(
    workers: Workers, tasks: TaskArrays, geometry: TripGeometry, rows: np.ndarray, cols: np.ndarray
) -> list[Trip]:
    """One single-tote trip per assigned pair."""
    trips = []
    for worker, task in zip(rows.tolist(), cols.tolist(), strict=True):
        trips.append(
            Trip(
                worker=worker,
                tasks=[task],
                stations=[int(tasks.station_index[task])],
                station_arrival_m=[float(geometry.approach[worker, task] + geometry.carry[task])],
                room=int(workers.free_capacity[worker]) - 1,
            )
        )
    return trips


def extend_trips(
    trips: list[Trip],
    waiting: np.ndarray,
    workers: Workers,
    tasks: TaskArrays,
    geometry: TripGeometry,
    now_s: float,
    policy: DispatchPolicy,
) -> None:
    """Add waiting candidates to `trips` by the module's rule. `waiting`: a bool mask over
    the candidates, cleared as they are taken."""
    growing = [trip for trip in trips if trip.room > 0]
    while growing and waiting.any():
        still = []
        for trip in growing:
            if not waiting.any():
                break
            added = _add_cheapest(trip, waiting, workers, tasks, geometry, now_s, policy)
            if added and trip.room > 0:
                still.append(trip)
        growing = still


def _add_cheapest(
    trip: Trip,
    waiting: np.ndarray,
    workers: Workers,
    tasks: TaskArrays,
    geometry: TripGeometry,
    now_s: float,
    policy: DispatchPolicy,
) -> bool:
    candidates = np.flatnonzero(waiting)
    worker = trip.worker
    speed = float(workers.speed[worker])
    best, position = _cheapest_pickup_insertion(trip, candidates, geometry)
    last_station = trip.stations[-1]

    station = tasks.station_index[candidates]
    new_station = ~np.isin(station, trip.stations)
    station_extra = np.where(new_station, geometry.station_to_station[last_station, station], 0.0)
    last_after = np.where(new_station, station, last_station)
    detour = best + station_extra

    ok = np.isfinite(detour) & (detour <= policy.detour_ratio * geometry.carry[candidates])
    ok &= best / speed <= _allowed_delay_s(trip, tasks, speed, now_s)
    ok &= trip.length_m + detour + geometry.home[last_after] <= workers.range_m[worker]
    if not ok.any():
        return False  # and none will later this tick: the waiting ones only get fewer

    pick = int(np.flatnonzero(ok)[np.argmin(detour[ok])])
    task = int(candidates[pick])
    trip.tasks.insert(int(position[pick]), task)
    trip.station_arrival_m = [arrival + float(best[pick]) for arrival in trip.station_arrival_m]
    if new_station[pick]:
        trip.stations.append(int(station[pick]))
        trip.station_arrival_m.append(trip.length_m + float(station_extra[pick]))
    trip.room -= 1
    waiting[task] = False
    return True


def _cheapest_pickup_insertion(
    trip: Trip, candidates: np.ndarray, geometry: TripGeometry
) -> tuple[np.ndarray, np.ndarray]:
    """For each candidate, the fewest extra metres its pickup adds to the route, inserted
    between two consecutive stops from the AGV to the first station, and before which of
    the trip's pickups (len(tasks): after the last) that is."""
    between = geometry.between_pickups
    worker, pickups, first_station = trip.worker, trip.tasks, trip.stations[0]
    best = np.full(len(candidates), np.inf)
    position = np.zeros(len(candidates), dtype=np.int64)
    for t in range(len(pickups) + 1):
        if t == 0:  # from the AGV
            to_candidate = geometry.approach[worker, candidates]
        else:
            to_candidate = between[pickups[t - 1], candidates]
        if t < len(pickups):  # on to the next pickup
            onward = between[candidates, pickups[t]]
            direct = (
                geometry.approach[worker, pickups[t]]
                if t == 0
                else between[pickups[t - 1], pickups[t]]
            )
        else:  # on to the first station
            onward = geometry.pickup_to_station[candidates, first_station]
            direct = geometry.pickup_to_station[pickups[-1], first_station]
        extra = to_candidate + onward - direct
        better = extra < best
        best[better] = extra[better]
        position[better] = t
    return best, position


def _allowed_delay_s(trip: Trip, tasks: TaskArrays, speed: float, now_s: float) -> float:
    """How much later the trip's stations may be reached without making late a task that
    would be on time (a task already late does not hold the others back)."""
    allowed = np.inf
    for task in trip.tasks:
        due = tasks.due_s[task]
        if np.isnan(due):
            continue
        arrival_m = trip.station_arrival_m[trip.stations.index(int(tasks.station_index[task]))]
        slack = float(due) - now_s - arrival_m / speed
        if slack >= 0:
            allowed = min(allowed, slack)
    return float(allowed)
