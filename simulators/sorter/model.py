"""The conveyor sorter as a pure model (DESIGN §5.3).

Each parcel arriving at the induct gets a trackId (`T-1`, `T-2`, ...) and is scanned.
The sorter then waits `decision_window_s` of WALL-clock time (the controller's latency
budget, not scaled by the sim speed-up) for a `divert` for that trackId; with one, the
parcel reaches the divert point `scan_to_divert_s` later and drops into the chute
(`diverted`). Without one it goes round the loop (`recirculated`, reason `noDecision`)
and is scanned again, at most `max_recirculations` times, then `rejected` into the reject
chute. A parcel in a carrier's chute is carried to that carrier's dock door; the reject
chute keeps its parcels.

Choices where §5.3 leaves room:
- Only a divert that arrives while the sorter waits for it counts; one for an unknown
  trackId, or one arriving late (parcel already looping or sorted) is ignored.
- A divert naming a chute the sorter does not have rejects the parcel (`unknownChute`).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SorterDurations:
    """Sim seconds."""

    scan_to_divert_s: float = 3.0
    loop_s: float = 20.0
    chute_to_door_s: float = 20.0


MAX_RECIRCULATIONS = 3


@dataclass(frozen=True)
class SorterEvent:
    payload: dict[str, Any]  # without "ts"
    at: float


@dataclass(frozen=True)
class ParcelInChute:
    parcel_id: str
    chute: str


@dataclass(frozen=True)
class ParcelToDoor:
    parcel_id: str
    door_id: str
    arrive_at: float


@dataclass(frozen=True)
class Ignored:
    reason: str


Output = SorterEvent | ParcelInChute | ParcelToDoor | Ignored


@dataclass
class _Track:
    track_id: str
    parcel_id: str
    codes: list[str]
    state: str = "awaiting"  # awaiting | diverting | looping | done
    recirculations: int = 0
    deadline_wall: float = 0.0
    chute: str | None = None


@dataclass(order=True)
class _Timed:
    at: float
    seq: int
    kind: str = field(compare=False)  # arrive | divert | rescan
    ref: Any = field(compare=False)


class SorterModel:
    def __init__(
        self,
        *,
        sorter_id: str,
        chutes: dict[str, str | None],
        reject_chute: str,
        chute_to_door: dict[str, str],
        decision_window_s: float,
        durations: SorterDurations | None = None,
        max_recirculations: int = MAX_RECIRCULATIONS,
    ) -> None:
        self.sorter_id = sorter_id
        self.chutes = dict(chutes)
        self.reject_chute = reject_chute
        self.chute_to_door = dict(chute_to_door)
        self.decision_window_s = decision_window_s
        self.durations = durations or SorterDurations()
        self.max_recirculations = max_recirculations
        self.tracks: dict[str, _Track] = {}
        self.chute_contents: dict[str, list[str]] = {c: [] for c in chutes}
        self._timeline: list[_Timed] = []
        self._seq = 0
        self._next_track = 1

    def chute_statuses(self, at: float) -> list[SorterEvent]:
        return [
            SorterEvent({"event": "chuteStatus", "chute": chute, "state": "AVAILABLE"}, at)
            for chute in self.chutes
        ]

    def induct(self, parcel_id: str, codes: list[str], arrive_at: float) -> None:
        self._push(arrive_at, "arrive", (parcel_id, list(codes)))

    def next_due(self) -> tuple[float | None, float | None]:
        """(next sim-time event, next wall-clock decision deadline)."""
        sim = self._timeline[0].at if self._timeline else None
        deadlines = [t.deadline_wall for t in self.tracks.values() if t.state == "awaiting"]
        return sim, (min(deadlines) if deadlines else None)

    def handle_command(self, command: Any, now: float, wall: float) -> list[Output]:
        if not isinstance(command, dict) or command.get("command") != "divert":
            return [Ignored(f"not a divert command: {command!r}")]
        track = self.tracks.get(command.get("trackId"))  # type: ignore[arg-type]
        if track is None:
            return [Ignored(f"divert for unknown trackId {command.get('trackId')!r}")]
        if track.state != "awaiting" or wall > track.deadline_wall:
            return [Ignored(f"late divert for {track.track_id} ({track.state})")]
        chute = command.get("chute")
        if not isinstance(chute, str) or chute not in self.chutes:
            track.state = "done"
            self.chute_contents[self.reject_chute].append(track.parcel_id)
            return [
                SorterEvent(
                    {"event": "rejected", "trackId": track.track_id, "reason": "unknownChute"},
                    now,
                ),
                ParcelInChute(track.parcel_id, self.reject_chute),
            ]
        track.state, track.chute = "diverting", chute
        self._push(now + self.durations.scan_to_divert_s, "divert", track.track_id)
        return []

    def advance(self, now: float, wall: float) -> list[Output]:
        outputs: list[Output] = []
        for track in self.tracks.values():
            if track.state == "awaiting" and track.deadline_wall <= wall:
                outputs.extend(self._no_decision(track, now))
        while self._timeline and self._timeline[0].at <= now:
            timed = heapq.heappop(self._timeline)
            if timed.kind == "arrive":
                parcel_id, codes = timed.ref
                track = _Track(f"T-{self._next_track}", parcel_id, codes)
                self._next_track += 1
                self.tracks[track.track_id] = track
                outputs.append(self._scan(track, timed.at, wall))
            elif timed.kind == "rescan":
                outputs.append(self._scan(self.tracks[timed.ref], timed.at, wall))
            else:
                outputs.extend(self._divert(self.tracks[timed.ref], timed.at))
        return outputs

    def _push(self, at: float, kind: str, ref: Any) -> None:
        self._seq += 1
        heapq.heappush(self._timeline, _Timed(at, self._seq, kind, ref))

    def _scan(self, track: _Track, at: float, wall: float) -> SorterEvent:
        track.state = "awaiting"
        track.deadline_wall = wall + self.decision_window_s
        return SorterEvent(
            {"event": "scanned", "trackId": track.track_id, "codes": list(track.codes)}, at
        )

    def _no_decision(self, track: _Track, now: float) -> list[Output]:
        if track.recirculations < self.max_recirculations:
            track.recirculations += 1
            track.state = "looping"
            self._push(now + self.durations.loop_s, "rescan", track.track_id)
            return [
                SorterEvent(
                    {"event": "recirculated", "trackId": track.track_id, "reason": "noDecision"},
                    now,
                )
            ]
        track.state = "done"
        self.chute_contents[self.reject_chute].append(track.parcel_id)
        return [
            SorterEvent(
                {"event": "rejected", "trackId": track.track_id, "reason": "noDecision"}, now
            ),
            ParcelInChute(track.parcel_id, self.reject_chute),
        ]

    def _divert(self, track: _Track, at: float) -> list[Output]:
        assert track.chute is not None
        track.state = "done"
        self.chute_contents[track.chute].append(track.parcel_id)
        outputs: list[Output] = [
            SorterEvent({"event": "diverted", "trackId": track.track_id, "chute": track.chute}, at),
            ParcelInChute(track.parcel_id, track.chute),
        ]
        door = self.chute_to_door.get(track.chute)
        if door is not None and track.chute != self.reject_chute:
            self.chute_contents[track.chute].remove(track.parcel_id)
            outputs.append(ParcelToDoor(track.parcel_id, door, at + self.durations.chute_to_door_s))
        return outputs
