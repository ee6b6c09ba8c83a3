"""The sorter model (DESIGN §5.3) with virtual sim and wall clocks."""

from __future__ import annotations

import pytest

from simulators.sorter.model import (
    Ignored,
    ParcelInChute,
    ParcelToDoor,
    SorterEvent,
    SorterModel,
)

WINDOW_S = 1.5
CODES = ["00106141412345678908"]


def sorter() -> SorterModel:
    return SorterModel(
        sorter_id="SORT1",
        chutes={"C01": "DHL", "C02": "UPS", "C99": None},
        reject_chute="C99",
        chute_to_door={"C01": "D1", "C02": "D1"},
        decision_window_s=WINDOW_S,
    )


def events(outputs: list) -> list[dict]:
    return [o.payload for o in outputs if isinstance(o, SorterEvent)]


def test_a_parcel_gets_a_track_id_and_is_scanned_with_its_label_code():
    model = sorter()
    model.induct("P1", CODES, 10.0)
    assert model.next_due() == (10.0, None)
    assert model.advance(9.0, 0.0) == []
    assert events(model.advance(10.0, 1.0)) == [
        {"event": "scanned", "trackId": "T-1", "codes": CODES}
    ]
    model.induct("P2", [], 11.0)
    assert events(model.advance(11.0, 1.1)) == [{"event": "scanned", "trackId": "T-2", "codes": []}]
    assert model.next_due() == (None, pytest.approx(1.0 + WINDOW_S))


def test_a_divert_in_time_diverts_after_three_seconds_and_sends_the_parcel_to_its_door():
    model = sorter()
    model.induct("P1", CODES, 0.0)
    model.advance(0.0, 100.0)
    divert = {"command": "divert", "trackId": "T-1", "chute": "C01"}
    assert model.handle_command(divert, 5.0, 100.0 + WINDOW_S - 0.01) == []
    assert model.advance(7.9, 102.0) == []
    outputs = model.advance(8.0, 102.0)
    assert events(outputs) == [{"event": "diverted", "trackId": "T-1", "chute": "C01"}]
    assert ParcelInChute("P1", "C01") in outputs
    assert ParcelToDoor("P1", "D1", 28.0) in outputs
    assert model.advance(1000.0, 1000.0) == []  # no recirculation after a decision


def test_without_an_answer_the_parcel_recirculates_three_times_then_is_rejected():
    model = sorter()
    model.induct("P1", CODES, 0.0)
    now, wall, seen = 0.0, 0.0, []
    for _ in range(20):
        sim_due, wall_due = model.next_due()
        if sim_due is None and wall_due is None:
            break
        if wall_due is not None and (sim_due is None or wall_due <= wall + 1):
            wall = wall_due  # time passes for the decision window only
        else:
            now, wall = sim_due, wall + 2.0
        seen += events(model.advance(now, wall))
    kinds = [e["event"] for e in seen]
    assert kinds == ["scanned", "recirculated"] * 3 + ["scanned", "rejected"]
    assert all(e["trackId"] == "T-1" for e in seen)
    assert {e["reason"] for e in seen if e["event"] in ("recirculated", "rejected")} == {
        "noDecision"
    }
    assert model.chute_contents["C99"] == ["P1"]


def test_recirculation_rescans_after_a_twenty_second_loop():
    model = sorter()
    model.induct("P1", CODES, 0.0)
    model.advance(0.0, 0.0)
    assert events(model.advance(3.0, WINDOW_S))[0]["event"] == "recirculated"
    assert model.next_due()[0] == pytest.approx(23.0)
    assert events(model.advance(23.0, 5.0))[0]["event"] == "scanned"


def test_the_decision_window_is_wall_clock_not_sim_time():
    model = sorter()
    model.induct("P1", CODES, 0.0)
    model.advance(0.0, 0.0)
    assert model.advance(500.0, 1.0) == []  # lots of sim time, little wall time: still waiting
    assert events(model.advance(500.0, WINDOW_S))[0]["event"] == "recirculated"


def test_divert_for_an_unknown_track_or_too_late_is_ignored():
    model = sorter()
    assert isinstance(
        model.handle_command({"command": "divert", "trackId": "T-9", "chute": "C01"}, 0.0, 0.0)[0],
        Ignored,
    )
    model.induct("P1", CODES, 0.0)
    model.advance(0.0, 0.0)
    model.advance(1.0, WINDOW_S + 0.1)  # recirculated
    late = model.handle_command({"command": "divert", "trackId": "T-1", "chute": "C01"}, 1.0, 2.0)
    assert isinstance(late[0], Ignored)


def test_the_reject_chute_keeps_its_parcels():
    model = sorter()
    model.induct("P1", [], 0.0)
    model.advance(0.0, 0.0)
    model.handle_command({"command": "divert", "trackId": "T-1", "chute": "C99"}, 0.0, 0.1)
    outputs = model.advance(3.0, 0.2)
    assert events(outputs) == [{"event": "diverted", "trackId": "T-1", "chute": "C99"}]
    assert not any(isinstance(o, ParcelToDoor) for o in outputs)
    assert model.chute_contents["C99"] == ["P1"]


def test_a_divert_to_a_chute_the_sorter_does_not_have_rejects_the_parcel():
    model = sorter()
    model.induct("P1", CODES, 0.0)
    model.advance(0.0, 0.0)
    outputs = model.handle_command({"command": "divert", "trackId": "T-1", "chute": "C42"}, 0, 0.1)
    assert events(outputs) == [{"event": "rejected", "trackId": "T-1", "reason": "unknownChute"}]


def test_chute_status_is_reported_for_every_chute():
    assert [e["chute"] for e in events(sorter().chute_statuses(0.0))] == ["C01", "C02", "C99"]
