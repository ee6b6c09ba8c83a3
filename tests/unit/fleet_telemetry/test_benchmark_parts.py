"""The fleet telemetry benchmark's pieces, without the broker: its AGVs speak valid VDA 5050
and drive only what they are granted; the bases get back to them; driven by the real
FleetControl they deliver and never meet; its figures count what was lost."""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
from array import array
from datetime import UTC, datetime
from typing import Any

import pytest

from benchmarks.fleet_telemetry.bases import BaseReader, BaseWriter
from benchmarks.fleet_telemetry.controller_side import ControllerSide
from benchmarks.fleet_telemetry.ingest import Records
from benchmarks.fleet_telemetry.publisher import Drive
from benchmarks.fleet_telemetry.report import figures
from benchmarks.fleet_telemetry.site import fleet_on
from benchmarks.fleet_telemetry.wire import StateTemplate, state_message, vda_now
from controller.domain.layout import AgvSpec
from controller.service.agv_link import master_for
from controller.traffic.plan_worker import plan_with
from tests.vda5050_schemas import problems


@pytest.mark.parametrize(("driving", "ahead"), [(True, ("x3y5", "x3y6")), (False, ())])
def test_the_simulated_states_are_valid_vda5050_2_1(driving: bool, ahead: tuple[str, ...]) -> None:
    message = state_message(
        "bench", "agv0003", 7, vda_now(), "x3y4", 3.0, 4.0, ahead=ahead, driving=driving
    )

    assert problems("state", message) == []


def test_a_state_from_the_template_is_the_state_message() -> None:
    template = StateTemplate("bench", "agv0003")
    stamp = vda_now()

    ahead = ("x5y10", "x6y10", "x7y10")

    encoded = template.encode(12, stamp, "x5y9", 5.0, 9.0, False, ahead)

    assert json.loads(encoded) == state_message(
        "bench", "agv0003", 12, stamp, "x5y9", 5.0, 9.0, ahead=ahead, driving=False
    )


def test_the_master_control_takes_the_simulated_states_in() -> None:
    master = master_for(AgvSpec("agv0000", "bench", "", 2.0), "t")
    encoded = StateTemplate("bench", "agv0000").encode(5, vda_now(), "x1y2", 1.0, 2.0, True)

    master.on_state(json.loads(encoded), datetime.now(UTC))

    assert master.vehicle.state is not None
    assert master.vehicle.state.last_node_id == "x1y2"


def test_an_agv_drives_one_node_a_second_along_its_base_and_waits_at_its_end() -> None:
    drive = Drive((10, 20), nodes_per_report=0.5)  # 2 Hz, 1 node/s
    drive.grant(0, (10, 11, 12))
    assert drive.ahead(0) == (11, 12)

    trail = []
    for _ in range(8):
        drive.report(0)
        trail.append(drive.nodes[0])

    assert trail == [10, 11, 11, 12, 12, 12, 12, 12]
    assert drive.ahead(0) == ()
    assert drive.waits == 3  # due at reports 6, 7 and 8
    assert drive.nodes[1] == 20  # nothing granted: it stands
    assert drive.conflicts == 0


def test_driving_onto_another_agvs_node_is_a_conflict() -> None:
    drive = Drive((10, 11), nodes_per_report=1.0)
    drive.grant(0, (10, 11))

    drive.report(0)

    assert drive.conflicts == 1


async def test_the_bases_reach_the_agvs_in_order_and_never_block_the_loop() -> None:
    reading, writing = multiprocessing.Pipe(duplex=False)
    writer = BaseWriter(writing, asyncio.get_running_loop())
    reader = BaseReader(reading)
    sent = [(i % 7, tuple(range(i, i + 1 + i % 4))) for i in range(20_000)]  # > a pipe's buffer

    for agv, base in sent:
        writer.send(agv, base)  # returns at once, whatever the pipe holds
    got: list[tuple[int, tuple[int, ...]]] = []
    for _ in range(len(sent)):  # a bound: each round moves at least one pipe's worth
        await asyncio.sleep(0)  # the loop writes what waits as the pipe takes it
        reader.wait(0.01)  # returns as soon as bytes are there
        got += reader.read()
        if len(got) >= len(sent):
            break
    writer.close()

    assert got == sent


def test_agvs_following_their_granted_bases_deliver_and_never_meet() -> None:
    fleet = fleet_on(1_500, 12, seed=3)
    side = ControllerSide(fleet, lookahead=3, seed=3)
    drive = Drive(fleet.starts, nodes_per_report=0.5)
    layout_ids = fleet.layout().node_ids

    def send_bases(agvs: list[int]) -> None:
        for agv in agvs:
            drive.grant(agv, side.base(agv))

    for second in range(240):
        now_s = float(second)
        request = side.plan_request(now_s)
        send_bases(side.install(plan_with(side.control.planner, request), now_s))
        for half in (0.0, 0.5):
            for agv in range(fleet.agvs):
                drive.report(agv)
                node = side.node_index[layout_ids[drive.nodes[agv]]]
                if side.on_state(agv, node, 80.0, now_s + half):
                    send_bases([agv])

    assert drive.conflicts == 0
    assert drive.off_base == 0
    assert side.control.kernel.violation_counts() == {}
    assert side.ticks.delivered > 0
    assert drive.moves > 12 * 60


def _published(agvs: int, reports: int) -> dict[str, Any]:
    total = agvs * reports
    return {
        "send_ns": array("q", [s * 1_000_000 for s in range(total)]),
        "lag_ns": array("q", [0] * total),
        "cpu_s": 0.1,
        "failures": 0,
        "reports": reports,
        "drive": {"moves": 0, "waits": 0, "conflicts": 0, "off_base": 0, "bases_received": 0},
    }


def _ingested(records: Records) -> dict[str, Any]:
    return {
        "records": records,
        "counts": {},
        "received": len(records.agv),
        "loop_cpu_s": 0.01,
        "process_cpu_s": 0.02,
        "bases_sent": 0,
        "warmup_s": 0.0,
        "tick_crash": None,
        "tick_compute_s": [],
        "tick_install_s": [],
        "tick_overruns": 0,
        "tick_failures": 0,
        "dispatch_ms": [],
        "plan_ms": [],
        "kernel_ms": [],
        "intake_ms": [],
        "tick_violations": {},
        "trips": 0,
        "picked": 0,
        "delivered": 0,
        "kernel_violations": {},
    }


def test_figures_count_the_lost_and_the_duplicated_and_time_after_the_warmup() -> None:
    args = argparse.Namespace(agvs=2, hz=2.0, warmup=1.0)  # 2 reports per AGV of warm-up
    records = Records.empty()
    for header in range(4):
        for agv in range(2):
            s = header * 2 + agv
            if s == 7:
                continue  # lost
            records.add(agv, header, s * 1_000_000 + 2_000_000, s * 1_000_000 + 5_000_000)
    records.add(0, 3, 99_000_000, 99_000_000)  # a duplicate
    records.add(1, 9, 1, 1)  # never sent

    run = figures(args, "process", _published(2, 4), _ingested(records), {"wall_s": 1.0})

    assert (run["offered"], run["received"], run["lost"]) == (8, 7, 1)
    assert (run["duplicates"], run["strays"]) == (1, 1)
    assert run["measured"] == 3  # headers 2 and 3, less the lost one
    assert run["latency_ms"]["p50"] == pytest.approx(5.0)
    assert run["to_handler_ms"]["max"] == pytest.approx(2.0)
