"""The dock door model: gate reads of arriving parcels and truck departures."""

from __future__ import annotations

import random

import pytest

from simulators.dock.model import (
    DockDoorModel,
    DoorEvent,
    DoorReads,
    ParcelLoaded,
    TruckDeparted,
)

EPC_1 = "3154257BF4499602D2000000"
EPC_2 = "3154257BF4499602D2000001"


def door() -> DockDoorModel:
    return DockDoorModel(door_id="D2", rng=random.Random(4))


def run(model: DockDoorModel, until: float) -> list:
    outputs: list = []
    while (due := model.next_due()) is not None and due <= until:
        outputs += model.advance(due)
    return outputs


def test_each_arriving_parcel_is_read_several_times_above_the_door_threshold():
    model = door()
    model.receive("P1", EPC_1, 5.0)
    outputs = run(model, 10.0)
    [reads] = [o for o in outputs if isinstance(o, DoorReads)]
    assert 3 <= len(reads.reads) <= 6
    assert all(r.epc == EPC_1 and r.rssi_dbm >= -58 and 5.0 <= r.at <= 6.0 for r in reads.reads)
    assert ParcelLoaded("P1", 1) in outputs


def test_the_truck_leaves_thirty_seconds_after_its_first_parcel_and_a_new_one_docks():
    model = door()
    model.receive("P1", EPC_1, 0.0)
    model.receive("P2", EPC_2, 10.0)
    assert not any(isinstance(o, DoorEvent) for o in run(model, 30.9))
    outputs = run(model, 31.0)
    [event] = [o for o in outputs if isinstance(o, DoorEvent)]
    assert event.payload == {"event": "truckDeparted", "doorId": "D2"}
    assert event.at == pytest.approx(31.0)  # loaded at 1.0 (after its gate pass), + 30 s
    assert TruckDeparted(1, ("P1", "P2")) in outputs
    model.receive("P3", EPC_1, 40.0)
    outputs = run(model, 100.0)
    assert TruckDeparted(2, ("P3",)) in outputs
    assert [o.at for o in outputs if isinstance(o, DoorEvent)] == [pytest.approx(71.0)]


def test_no_truck_leaves_without_parcels():
    model = door()
    assert run(model, 1000.0) == []


def test_a_parcel_arriving_as_the_truck_closes_waits_for_the_next_truck():
    model = door()
    model.receive("P1", EPC_1, 0.0)
    model.receive("P2", EPC_2, 29.5)  # its pass would end after the door closes
    outputs = run(model, 100.0)
    departed = outputs.index(TruckDeparted(1, ("P1",)))
    p2_reads = [
        i for i, o in enumerate(outputs) if isinstance(o, DoorReads) and o.reads[0].epc == EPC_2
    ]
    assert p2_reads
    assert min(p2_reads) > departed
    assert ParcelLoaded("P2", 2) in outputs
    assert TruckDeparted(2, ("P2",)) in outputs
