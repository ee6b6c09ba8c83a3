"""Several totes per trip: each assigned trip takes further tasks on a cheap detour.

A trip's route is: AGV → pickup 1 → … → pickup k → station 1 → … → station m (every pickup
before any drop; a station appears once, in the order first needed). After the assignment,
trips grow in rounds, each trip by at most one tote a round (so no trip takes all the good
ones): every trip with room wants the waiting candidate whose insertion costs it fewest
extra metres among those that pass the rule below; wishes are granted cheapest first, and
a trip whose candidate has just gone to a cheaper wish turns to its next cheapest. A
candidate passes if:

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

Each round is vectorised over trips and candidates at once (trips grouped by how many
pickups they have); the loops are over rounds and the few insertion positions only.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

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
    speed: float  # m/s
    tasks: list[int]  # in pickup order
    stations: list[int]  # in visiting order
    station_arrival_m: list[float]  # metres along the route
    slack_s: list[float]  # each task's time to spare at its drop (inf: no due time)
    room: int  # totes it may still take

    @property
    def length_m(self) -> float:
        return self.station_arrival_m[-1]

    @property
    def allowed_delay_s(self) -> float:
        """How much later its stations may be reached without making late a task that
        would be on time (a task already late does not hold the others back)."""
        return min((slack for slack in self.slack_s if slack >= 0), default=np.inf)

    def insert(self, insertion: Insertion, due_in_s: float) -> None:
        delay_s = insertion.pickup_extra_m / self.speed
        self.tasks.insert(insertion.position, insertion.task)
        self.station_arrival_m = [m + insertion.pickup_extra_m for m in self.station_arrival_m]
        self.slack_s = [slack - delay_s for slack in self.slack_s]
        if insertion.new_station:
            self.stations.append(insertion.station)
            self.station_arrival_m.append(self.length_m + insertion.station_extra_m)
        arrival_m = self.station_arrival_m[self.stations.index(insertion.station)]
        self.slack_s.append(due_in_s - arrival_m / self.speed)
        self.room -= 1


@dataclass(frozen=True)
class Insertion:
    task: int
    position: int  # before which of the trip's pickups (len(tasks): after the last)
    pickup_extra_m: float
    station: int
    station_extra_m: float  # the drive from the last station, when the station is new
    new_station: bool


def start_trips(
    workers: Workers,
    tasks: TaskArrays,
    geometry: TripGeometry,
    rows: np.ndarray,
    cols: np.ndarray,
    now_s: float,
) -> list[Trip]:
    """One single-tote trip per assigned pair."""
    arrival_m = geometry.approach[rows, cols] + geometry.carry[cols]
    speed = workers.speed[rows]
    slack_s = np.nan_to_num(tasks.due_s[cols] - now_s - arrival_m / speed, nan=np.inf)
    station = tasks.station_index[cols].tolist()
    room = (workers.free_capacity[rows] - 1).tolist()
    return [
        Trip(worker, v, [task], [station[k]], [arrival], [slack], room[k])
        for k, (worker, task, v, arrival, slack) in enumerate(
            zip(
                rows.tolist(),
                cols.tolist(),
                speed.tolist(),
                arrival_m.tolist(),
                slack_s.tolist(),
                strict=True,
            )
        )
    ]


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
    due_in_s = np.nan_to_num(tasks.due_s - now_s, nan=np.inf).tolist()
    growing = [trip for trip in trips if trip.room > 0]
    if not growing or not waiting.any():
        return
    legs = geometry.legs_touching(np.flatnonzero(waiting))
    while growing and waiting.any():
        candidates = np.flatnonzero(waiting)
        by_pickups: dict[int, list[Trip]] = {}
        for trip in growing:
            by_pickups.setdefault(len(trip.tasks), []).append(trip)
        rounds = [
            _Choices.of(group, candidates, workers, tasks, geometry, legs, policy)
            for group in by_pickups.values()
        ]
        available = np.ones(len(candidates), dtype=bool)  # this round's view of `waiting`
        wishes = []
        for g, choices in enumerate(rounds):
            for row in range(len(choices.trips)):
                col = choices.wish(row, available)
                if col is not None:
                    wishes.append((float(choices.detour_m[row, col]), g, row))
        heapq.heapify(wishes)
        grown = []
        while wishes:
            detour_m, g, row = heapq.heappop(wishes)
            choices = rounds[g]
            col = choices.wish(row, available)
            if col is None:
                continue
            if choices.detour_m[row, col] > detour_m:  # its wish went to a cheaper one
                heapq.heappush(wishes, (float(choices.detour_m[row, col]), g, row))
                continue
            insertion = choices.insertion(row, col, candidates)
            choices.trips[row].insert(insertion, due_in_s[insertion.task])
            waiting[insertion.task] = False
            available[col] = False
            grown.append(choices.trips[row])
        # A trip that got nothing this round never will: the waiting candidates only get
        # fewer.
        growing = [trip for trip in grown if trip.room > 0]


@dataclass(frozen=True)
class _Choices:
    """One round's insertions of every waiting candidate (columns) into each of a group of
    trips with as many pickups (rows)."""

    trips: list[Trip]
    detour_m: np.ndarray  # [T, C], inf where the module's rule says no
    preference: list[list[int]]  # per trip: the columns it may take, cheapest first
    cursor: list[int]  # per trip: how far down its preference the taken ones reach
    pickup_extra_m: np.ndarray
    position: np.ndarray
    station: np.ndarray  # [C]
    station_extra_m: np.ndarray
    new_station: np.ndarray

    @classmethod
    def of(
        cls,
        trips: list[Trip],
        candidates: np.ndarray,
        workers: Workers,
        tasks: TaskArrays,
        geometry: TripGeometry,
        legs: np.ndarray,
        policy: DispatchPolicy,
    ) -> _Choices:
        """`legs`: [K, K] pickup → pickup, wherever a waiting candidate is at one end."""
        worker = np.array([trip.worker for trip in trips])
        pickup_extra, position = _cheapest_pickup_insertion(trips, candidates, geometry, legs)

        station = tasks.station_index[candidates]  # [C]
        on_route = np.zeros((len(trips), len(tasks.stations)), dtype=bool)
        for row, trip in enumerate(trips):
            on_route[row, trip.stations] = True
        new_station = ~on_route[:, station]
        last_station = np.array([trip.stations[-1] for trip in trips])
        station_extra = np.where(
            new_station, geometry.station_to_station[last_station[:, None], station[None, :]], 0.0
        )
        last_after = np.where(new_station, station[None, :], last_station[:, None])
        detour = pickup_extra + station_extra

        speed = np.array([trip.speed for trip in trips])
        allowed_delay_s = np.array([trip.allowed_delay_s for trip in trips])
        reach_m = workers.range_m[worker] - np.array([trip.length_m for trip in trips])
        ok = np.isfinite(detour) & (detour <= policy.detour_ratio * geometry.carry[candidates])
        ok &= pickup_extra / speed[:, None] <= allowed_delay_s[:, None]
        ok &= detour + geometry.home[last_after] <= reach_m[:, None]
        detour = np.where(ok, detour, np.inf)
        order = np.argsort(detour, axis=1, kind="stable")
        allowed = ok.sum(axis=1)
        return cls(
            trips,
            detour,
            [order[row, :n].tolist() for row, n in enumerate(allowed.tolist())],
            [0] * len(trips),
            pickup_extra,
            position,
            station,
            station_extra,
            new_station,
        )

    def wish(self, row: int, available: np.ndarray) -> int | None:
        """The cheapest column trip `row` may take that is still available."""
        preference = self.preference[row]
        cursor = self.cursor[row]
        while cursor < len(preference) and not available[preference[cursor]]:
            cursor += 1
        self.cursor[row] = cursor
        return preference[cursor] if cursor < len(preference) else None

    def insertion(self, row: int, col: int, candidates: np.ndarray) -> Insertion:
        return Insertion(
            task=int(candidates[col]),
            position=int(self.position[row, col]),
            pickup_extra_m=float(self.pickup_extra_m[row, col]),
            station=int(self.station[col]),
            station_extra_m=float(self.station_extra_m[row, col]),
            new_station=bool(self.new_station[row, col]),
        )


def _cheapest_pickup_insertion(
    trips: list[Trip], candidates: np.ndarray, geometry: TripGeometry, legs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """[T, C]: the fewest extra metres each candidate's pickup adds to each trip's route,
    inserted between two consecutive stops from the AGV to the first station, and before
    which of the trip's pickups that is (k: after the last)."""
    worker = np.array([trip.worker for trip in trips])
    pickups = np.array([trip.tasks for trip in trips])  # [T, k]: all have k pickups
    first_station = np.array([trip.stations[0] for trip in trips])
    k = pickups.shape[1]
    best = np.full((len(trips), len(candidates)), np.inf)
    position = np.zeros(best.shape, dtype=np.int64)
    for t in range(k + 1):
        if t == 0:  # from the AGV
            to_candidate = geometry.approach[worker[:, None], candidates[None, :]]
        else:
            to_candidate = legs[pickups[:, t - 1, None], candidates[None, :]]
        if t < k:  # on to the next pickup
            onward = legs[candidates[None, :], pickups[:, t, None]]
            if t == 0:
                direct = geometry.approach[worker, pickups[:, 0]]
            else:
                direct = legs[pickups[:, t - 1], pickups[:, t]]
        else:  # on to the first station
            onward = geometry.pickup_to_station[candidates[None, :], first_station[:, None]]
            direct = geometry.pickup_to_station[pickups[:, k - 1], first_station]
        extra = to_candidate + onward - direct[:, None]
        better = extra < best
        best[better] = extra[better]
        position[better] = t
    return best, position
