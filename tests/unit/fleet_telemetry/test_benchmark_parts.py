"""The fleet telemetry benchmark's pieces, without the broker: its AGVs speak valid VDA 5050,
drive circuits the kernel can grant, and its figures count what was lost."""

from __future__ import annotations

import argparse
import time
from array import array
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

import pytest

from benchmarks.fleet_telemetry import (
    _Records,
    figures,
    init_stand_in,
    node_id,
    stand_in_tick,
    state_message,
    tile_floor,
    vda_now,
)
from controller.domain.layout import AgvSpec
from controller.service.agv_link import master_for
from controller.traffic.ingest import BaseExtender
from controller.traffic.kernel import ReservationKernel
from tests.vda5050_schemas import problems


@pytest.mark.parametrize("header_id", [0, 1, 11, 12, 1000])
def test_the_simulated_states_are_valid_vda5050_2_1(header_id: int) -> None:
    floor = tile_floor(4)

    message = state_message(floor, "bench", 3, header_id, vda_now())

    assert problems("state", message) == []


def test_the_master_control_takes_the_simulated_states_in() -> None:
    floor = tile_floor(1)
    master = master_for(AgvSpec("agv0000", "bench", node_id(floor.circuits[0][0]), 2.0), "t")

    master.on_state(state_message(floor, "bench", 0, 5, vda_now()), datetime.now(UTC))

    assert master.vehicle.state is not None
    assert master.vehicle.state.last_node_id == node_id(floor.circuits[0][5])


def test_each_agv_drives_its_own_closed_circuit_of_neighbours() -> None:
    floor = tile_floor(7)
    edges = set(floor.edges())
    nodes = [node for circuit in floor.circuits for node in circuit]

    assert len(nodes) == len(set(nodes))
    for circuit in floor.circuits:
        assert len(circuit) == 12
        for a, b in pairwise((*circuit, circuit[0])):
            assert (min(a, b), max(a, b)) in edges


def test_every_state_round_the_circuit_frees_one_node_and_grants_one() -> None:
    floor = tile_floor(2)
    kernel = ReservationKernel(floor.node_count, floor.edges())
    extender = BaseExtender(kernel, {node_id(n): n for n in range(floor.node_count)})
    circuit = floor.circuits[1]
    kernel.place("agv0001", circuit[0])
    extender.install({"agv0001": circuit + circuit})

    decisions = [
        extender.on_state("agv0001", state_message(floor, "b", 1, k, "")["lastNodeId"])
        for k in range(30)
    ]

    assert all(d is not None and d.violation is None and d.refusal is None for d in decisions)
    assert all(d is not None and len(d.released) == 1 for d in decisions[1:])


def test_the_stand_in_tick_plans_along_the_circuits_and_burns_its_cpu() -> None:
    floor = tile_floor(3)
    init_stand_in(floor.circuits, 5, tick_ms=20)
    started = time.thread_time()

    plans, cpu_s = stand_in_tick([c[4] for c in floor.circuits])

    assert plans == [list(c[4:9]) for c in floor.circuits]
    assert cpu_s >= 0.02
    assert time.thread_time() - started >= 0.02


def _published(agvs: int, reports: int) -> dict[str, Any]:
    total = agvs * reports
    return {
        "send_ns": array("q", [s * 1_000_000 for s in range(total)]),
        "lag_ns": array("q", [0] * total),
        "cpu_s": 0.1,
        "failures": 0,
        "reports": reports,
    }


def _ingested(records: _Records) -> dict[str, Any]:
    return {
        "records": records,
        "counts": {},
        "received": len(records.agv),
        "loop_cpu_s": 0.01,
        "process_cpu_s": 0.02,
        "inline_tick_cpu_s": 0.0,
        "tick_cpu_s": [],
        "tick_compute_s": [],
        "tick_install_s": [],
        "tick_overruns": 0,
        "tick_failures": 0,
        "violations": {},
    }


def test_figures_count_the_lost_and_the_duplicated_and_time_after_the_warmup() -> None:
    args = argparse.Namespace(agvs=2, hz=2.0, warmup=1.0)  # 2 reports per AGV of warm-up
    records = _Records.empty()
    for header in range(4):
        for agv in range(2):
            s = header * 2 + agv
            if s == 7:
                continue  # lost
            records.add(agv, header, s * 1_000_000 + 2_000_000, s * 1_000_000 + 5_000_000)
    records.add(0, 3, 99_000_000, 99_000_000)  # a duplicate
    records.add(1, 9, 1, 1)  # never sent

    run = figures(args, "decide", _published(2, 4), _ingested(records), {"wall_s": 1.0})

    assert (run["offered"], run["received"], run["lost"]) == (8, 7, 1)
    assert (run["duplicates"], run["strays"]) == (1, 1)
    assert run["measured"] == 3  # headers 2 and 3, less the lost one
    assert run["latency_ms"]["p50"] == pytest.approx(5.0)
    assert run["to_handler_ms"]["max"] == pytest.approx(2.0)
