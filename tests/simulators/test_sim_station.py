"""The pick/pack station model on a virtual clock."""

from __future__ import annotations

import random

import pytest

from simulators.common.epc import make_sscc, sscc96
from simulators.common.world import World
from simulators.station.model import (
    GateReads,
    Ignored,
    ParcelToSorter,
    StationEvent,
    StationModel,
)

GTIN_1 = "00614141001002"  # SKU-0001 in TOTE-0001 and TOTE-0002


def station(world: World, **kwargs: object) -> StationModel:
    return StationModel(
        station_id="ST1",
        node="ST1",
        world=world,
        rng=random.Random(3),
        company_prefix_len=7,
        **kwargs,  # type: ignore[arg-type]
    )


def pick(qty: int, tote: str = "TOTE-0001", order_id: str = "SO-1", task: str = "t-1") -> dict:
    return {
        "command": "pick",
        "taskId": task,
        "orderId": order_id,
        "lineId": "10",
        "toteId": tote,
        "sku": "SKU-0001",
        "gtin": GTIN_1,
        "qty": qty,
        "ts": "2026-11-22T10:00:00.000Z",
    }


def events(outputs: list) -> list[dict]:
    return [o.payload for o in outputs if isinstance(o, StationEvent)]


def test_pick_moves_the_items_from_the_tote_into_the_order_carton_after_six_seconds(
    world: World,
):
    world.totes["TOTE-0001"].node = "ST1"
    before = [i.epc for i in world.totes["TOTE-0001"].items]
    model = station(world)
    assert model.handle_command(pick(2), 100.0) == []
    assert model.next_due() == pytest.approx(106.0)
    assert model.advance(105.9) == []
    [out] = model.advance(106.0)
    assert isinstance(out, StationEvent)
    assert out.at == pytest.approx(106.0)
    assert out.payload == {
        "event": "picked",
        "taskId": "t-1",
        "orderId": "SO-1",
        "lineId": "10",
        "toteId": "TOTE-0001",
        "sku": "SKU-0001",
        "qty": 2,
    }
    carton = world.cartons["SO-1"]
    assert [i.epc for i in carton.items] == before[:2]
    assert len(world.totes["TOTE-0001"].items) == 38


def test_the_operator_does_one_thing_at_a_time(world: World):
    world.totes["TOTE-0001"].node = "ST1"
    model = station(world)
    model.handle_command(pick(1, task="t-1"), 0.0)
    model.handle_command(pick(1, task="t-2"), 1.0)
    model.handle_command({"command": "closeCarton", "orderId": "SO-1"}, 2.0)
    assert [e["taskId"] for e in events(model.advance(6.0))] == ["t-1"]
    assert [e["taskId"] for e in events(model.advance(12.0))] == ["t-2"]
    assert events(model.advance(15.9)) == []
    assert events(model.advance(16.0)) == [{"event": "cartonClosed", "orderId": "SO-1"}]


def test_a_tote_that_is_not_at_the_station_is_a_short_pick_of_zero(world: World):
    model = station(world)  # TOTE-0001 is still in its rack
    model.handle_command(pick(2), 0.0)
    [event] = events(model.advance(6.0))
    assert event["qty"] == 0
    assert len(world.totes["TOTE-0001"].items) == 40


def test_short_pick_probability_reports_less_than_instructed(world: World):
    world.totes["TOTE-0001"].node = "ST1"
    model = station(world, short_pick_probability=1.0)
    model.handle_command(pick(3), 0.0)
    [event] = events(model.advance(6.0))
    assert event["qty"] < 3
    carton = world.cartons.get("SO-1")
    assert (len(carton.items) if carton else 0) == event["qty"]
    assert len(world.totes["TOTE-0001"].items) == 40 - event["qty"]


def test_closing_the_carton_puts_every_item_through_the_gate_and_only_weak_strays(world: World):
    world.totes["TOTE-0001"].node = "ST1"
    world.totes["TOTE-0013"].node = "ST1"  # another tote standing at the station
    model = station(world)
    model.handle_command(pick(3), 0.0)
    model.advance(6.0)
    model.handle_command({"command": "closeCarton", "orderId": "SO-1"}, 6.0)
    outputs = model.advance(10.0)
    assert events(outputs) == [{"event": "cartonClosed", "orderId": "SO-1"}]
    [gate] = [o for o in outputs if isinstance(o, GateReads)]
    carton_epcs = {i.epc for i in world.cartons["SO-1"].items}
    assert len(carton_epcs) == 3
    strong = [r for r in gate.reads if r.epc in carton_epcs]
    strays = [r for r in gate.reads if r.epc not in carton_epcs]
    for epc in carton_epcs:
        assert 3 <= sum(r.epc == epc for r in strong) <= 8
    assert all(-53 <= r.rssi_dbm <= -37 for r in strong)
    assert strays, "a few weak reads of the totes at the station"
    assert all(r.rssi_dbm < -75 for r in strays)
    nearby = {i.epc for t in ("TOTE-0001", "TOTE-0013") for i in world.totes[t].items}
    assert {r.epc for r in strays} <= nearby
    assert all(10.0 < r.at <= 12.0 for r in gate.reads)  # after cartonClosed, ~1 s pass


def test_label_attaches_the_sscc_and_its_sscc96_tag_and_sends_the_parcel_to_the_sorter(
    world: World,
):
    world.totes["TOTE-0001"].node = "ST1"
    model = station(world)
    model.handle_command(pick(1), 0.0)
    model.handle_command({"command": "closeCarton", "orderId": "SO-1"}, 0.0)
    model.advance(10.0)
    sscc = make_sscc(0, "0614141", 42)
    model.handle_command(
        {"command": "label", "orderId": "SO-1", "sscc": sscc, "carrier": "DHL"}, 20.0
    )
    outputs = model.advance(21.0)
    assert events(outputs) == [{"event": "labelled", "orderId": "SO-1", "sscc": sscc}]
    [to_sorter] = [o for o in outputs if isinstance(o, ParcelToSorter)]
    assert to_sorter == ParcelToSorter(sscc, pytest.approx(36.0))
    parcel = world.parcels[sscc]
    assert parcel.epc == sscc96(sscc, 7, 2)
    assert parcel.carrier == "DHL"
    assert len(parcel.items) == 1


def test_reject_sends_the_carton_to_the_exception_lane(world: World):
    world.totes["TOTE-0001"].node = "ST1"
    model = station(world)
    model.handle_command(pick(1), 0.0)
    model.handle_command({"command": "closeCarton", "orderId": "SO-1"}, 0.0)
    model.advance(10.0)
    model.handle_command({"command": "reject", "orderId": "SO-1", "reason": "rfid_mismatch"}, 11.0)
    assert model.advance(11.0) == []
    assert world.cartons["SO-1"].state == "exception"
    assert world.exception_lane == [world.cartons["SO-1"]]
    model.handle_command({"command": "label", "orderId": "SO-1", "sscc": "1" * 18}, 12.0)
    assert all(isinstance(o, Ignored) for o in model.advance(13.0))


def test_malformed_commands_are_ignored(world: World):
    model = station(world)
    assert isinstance(model.handle_command({"command": "pick"}, 0.0)[0], Ignored)
    assert isinstance(model.handle_command({"command": "dance", "orderId": "x"}, 0.0)[0], Ignored)
    assert isinstance(model.handle_command([], 0.0)[0], Ignored)
    assert model.next_due() is None


def put_back(qty: int, tote: str = "TOTE-0001", order_id: str = "SO-1") -> dict:
    return {
        "command": "putBack",
        "taskId": "t-9",
        "putbackId": "PB-1",
        "orderId": order_id,
        "lineId": "10",
        "toteId": tote,
        "sku": "SKU-0001",
        "gtin": GTIN_1,
        "qty": qty,
        "ts": "2026-11-22T10:00:00.000Z",
    }


def test_cancel_drops_the_orders_work_still_to_do_and_sets_its_carton_aside(world: World):
    world.totes["TOTE-0001"].node = "ST1"
    model = station(world)
    model.handle_command(pick(1, task="t-1"), 0.0)
    model.handle_command(pick(1, task="t-2"), 0.0)
    model.handle_command(pick(1, task="t-3", order_id="SO-2"), 0.0)
    model.handle_command({"command": "closeCarton", "orderId": "SO-1"}, 0.0)
    assert [e["taskId"] for e in events(model.advance(6.0))] == ["t-1"]
    assert model.handle_command({"command": "cancel", "orderId": "SO-1"}, 7.0) == []
    assert [e["taskId"] for e in events(model.advance(100.0))] == ["t-3"]  # SO-2 goes on
    carton = world.cartons["SO-1"]
    assert (carton.state, len(carton.items)) == ("cancelled", 1)
    assert len(world.totes["TOTE-0001"].items) == 38


def test_put_back_moves_the_cancelled_orders_items_into_the_tote_and_confirms(world: World):
    world.totes["TOTE-0001"].node = "ST1"
    model = station(world)
    model.handle_command(pick(3), 0.0)
    model.advance(6.0)
    model.handle_command({"command": "cancel", "orderId": "SO-1"}, 6.0)
    picked = list(world.cartons["SO-1"].items)
    assert model.handle_command(put_back(3), 10.0) == []
    assert model.advance(15.9) == []
    [out] = model.advance(16.0)
    assert isinstance(out, StationEvent)
    assert out.payload == {
        "event": "putBack",
        "taskId": "t-9",
        "putbackId": "PB-1",
        "orderId": "SO-1",
        "lineId": "10",
        "toteId": "TOTE-0001",
        "sku": "SKU-0001",
        "qty": 3,
    }
    assert world.cartons["SO-1"].items == []
    tote = world.totes["TOTE-0001"].items
    assert (len(tote), tote[-3:]) == (40, picked)


def test_put_back_into_a_tote_that_is_not_at_the_station_puts_nothing_back(world: World):
    world.totes["TOTE-0001"].node = "ST1"
    model = station(world)
    model.handle_command(pick(2), 0.0)
    model.advance(6.0)
    world.totes["TOTE-0001"].node = "A1-01"  # gone home already
    model.handle_command(put_back(2), 6.0)
    [event] = events(model.advance(12.0))
    assert event["qty"] == 0
    assert len(world.cartons["SO-1"].items) == 2


def test_malformed_put_backs_are_ignored(world: World):
    model = station(world)
    for broken in ({**put_back(1), "putbackId": None}, {**put_back(1), "qty": -1}):
        assert isinstance(model.handle_command(broken, 0.0)[0], Ignored)
    assert model.next_due() is None
