"""The ingest: the edge's side in one process. Its own MQTT connection (`edge.mqtt`) takes
every AGV `state`; per state: parse (`AgvMaster.on_state`), then the decision
(`FleetControl.observe` and the stop bookkeeping, controller_side.py); the nodes it
released go back to the AGVs (bases.py). The planning tick runs every `tick_period_s` in
`edge.planning.PlanningLoop`: `plan_request` on the loop, the planner in a one-worker
process pool (`plan_worker.plan_paths`; `inline`: on the loop), `install` on the loop.

Phases: `receive` takes the states in and reads their headerId only (no JSON, no
decision): the broker's and the MQTT client's share of the latency. `process` is the
design; `inline` plans on the event loop, to show what that costs."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from array import array
from collections import Counter
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from typing import Any

from benchmarks.fleet_telemetry.site import Fleet, serial
from benchmarks.fleet_telemetry.wire import HEADER_ID

DRAIN_IDLE_S = 1.5  # after publishing stops: no message for this long, the ingest is done
DRAIN_MAX_S = 60.0
# Ticks before the start: the first dispatches the whole fleet at once (seconds at 500
# AGVs) and the worker computes every AGV's goal table; the second takes in a backlog's
# worth of new tasks (their pickups' distance tables); from the third on, steady state.
WARMUP_TICKS = 3


@dataclass(frozen=True)
class IngestJob:
    host: str
    port: int
    manufacturer: str
    fleet: Fleet
    phase: str
    lookahead: int
    tick_period_s: float
    worker_nice: int


@dataclass
class Records:
    """Per state taken in: which (AGV, headerId), when received, when decided."""

    agv: array[int]
    header: array[int]
    recv_ns: array[int]
    done_ns: array[int]

    @classmethod
    def empty(cls) -> Records:
        return cls(array("l"), array("l"), array("q"), array("q"))

    def add(self, agv: int, header: int, recv_ns: int, done_ns: int) -> None:
        self.agv.append(agv)
        self.header.append(header)
        self.recv_ns.append(recv_ns)
        self.done_ns.append(done_ns)


def init_worker(nice: int, setup: Any) -> None:
    """The planning worker process: lower its priority by `nice`, so that whenever the CPU is
    short the state path wins it, then build the planner (`plan_worker.start_planner`)."""
    from controller.traffic.plan_worker import start_planner

    os.nice(nice)
    start_planner(setup)


def ingest_main(job: IngestJob, pipe: Connection, bases_end: Connection) -> None:
    asyncio.run(_ingest(job, pipe, bases_end))


async def _ingest(job: IngestJob, pipe: Connection, bases_end: Connection) -> None:
    from benchmarks.fleet_telemetry.bases import BaseWriter
    from benchmarks.fleet_telemetry.controller_side import ControllerSide
    from controller.domain.layout import AgvSpec
    from controller.service.agv_link import master_for
    from controller.traffic.plan_worker import PlannedPaths, PlanRequest, plan_paths, plan_with
    from controller.vda5050.errors import MalformedMessage
    from edge.codecs.common import parse_json_object
    from edge.codecs.errors import PayloadError
    from edge.mqtt.connection import MqttConnection, Publication
    from edge.mqtt.topics import Kind, Route, agv_topic
    from edge.planning import PlanningLoop

    fleet = job.fleet
    serials = [serial(i) for i in range(fleet.agvs)]
    agv_index = {s: i for i, s in enumerate(serials)}
    records = Records.empty()
    counts: Counter[str] = Counter()
    monotonic_ns = time.monotonic_ns
    last_message_ns = [0]
    received = [0]  # messages handed to us, whatever became of them
    loop = asyncio.get_running_loop()
    bases = BaseWriter(bases_end, loop)
    deciding = job.phase != "receive"
    side = ControllerSide(fleet, lookahead=job.lookahead) if deciding else None
    masters = [master_for(AgvSpec(s, job.manufacturer, "", 2.0), job.manufacturer) for s in serials]
    clock_zero = time.monotonic()

    def now_s() -> float:
        return time.monotonic() - clock_zero

    async def receive_only(topic: str, payload: bytes) -> None:
        recv = monotonic_ns()
        received[0] += 1
        last_message_ns[0] = recv
        found = HEADER_ID.search(payload)
        agv = agv_index.get(topic.split("/", 4)[3], -1)
        if found is None or agv < 0:
            counts["unreadable"] += 1
            return
        records.add(agv, int(found.group(1)), recv, monotonic_ns())

    async def decide(topic: str, payload: bytes) -> None:
        recv = monotonic_ns()
        received[0] += 1
        last_message_ns[0] = recv
        agv = agv_index.get(topic.split("/", 4)[3], -1)
        if agv < 0:
            counts["unknown_agv"] += 1
            return
        master = masters[agv]
        try:
            master.on_state(parse_json_object(payload), datetime.now(UTC))
        except (PayloadError, MalformedMessage):
            counts["malformed"] += 1
            return
        state = master.vehicle.state
        assert state is not None
        assert side is not None
        node = side.node_index.get(state.last_node_id)
        if node is None:
            counts["off_floor"] += 1
            return
        try:
            released = side.on_state(agv, node, state.battery_charge, now_s())
        except Exception:
            counts["errors"] += 1
            raise
        done = monotonic_ns()
        records.add(agv, state.header.header_id, recv, done)
        if released:
            counts["extended"] += 1
            bases.send(agv, side.base(agv))
        else:
            counts["not_extended"] += 1

    status = f"bench/{job.manufacturer}/ingest/status"
    connection = MqttConnection(
        host=job.host,
        port=job.port,
        client_id=f"{job.manufacturer}-ingest",
        keepalive=30,
        birth=lambda: Publication(status, b"ONLINE"),
        will=lambda: Publication(status, b"CONNECTIONBROKEN"),
        goodbye=lambda: Publication(status, b"OFFLINE"),
        persistent_session=False,
    )
    route = Route(agv_topic(job.manufacturer, "+", "state"), Kind.AGV_STATE, 0)
    receiving = asyncio.create_task(connection.run([route], decide if deciding else receive_only))

    executor: Executor | None = None
    planning: PlanningLoop[PlanRequest, PlannedPaths] | None = None
    if side is not None:
        if job.phase == "process":
            executor = ProcessPoolExecutor(
                1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=init_worker,
                initargs=(job.worker_nice, side.control.planner_setup()),
            )
            compute: Any = plan_paths
        else:
            planner = side.control.planner

            def compute(request: PlanRequest) -> PlannedPaths:
                return plan_with(planner, request)

        def install(planned: PlannedPaths) -> None:
            for agv in side.install(planned, now_s()):
                bases.send(agv, side.base(agv))

        planning = PlanningLoop(
            period_s=job.tick_period_s,
            snapshot=lambda: side.plan_request(now_s()),
            compute=compute,
            install=install,
            executor=executor,
        )
        warmup_started = time.perf_counter()
        for _ in range(WARMUP_TICKS):
            await planning.tick_once()
        warmup_s = time.perf_counter() - warmup_started
        planning.stats.compute_s.clear()
        planning.stats.install_s.clear()
        for ticks in (side.ticks.dispatch_ms, side.ticks.plan_ms, side.ticks.kernel_ms):
            ticks.clear()
        side.ticks.intake_ms.clear()
    else:
        warmup_s = 0.0

    await connection.connected.wait()  # subscribed before it is set
    pipe.send("ready")
    await loop.run_in_executor(None, pipe.recv)  # go: the publisher starts now
    cpu_loop = time.thread_time()
    cpu_process = time.process_time()
    ticking = asyncio.create_task(planning.run()) if planning is not None else None
    expected: int = await loop.run_in_executor(None, pipe.recv)  # published, at the end
    drain_deadline = time.monotonic() + DRAIN_MAX_S
    told_ns = monotonic_ns()
    while received[0] < expected:
        idle_s = (monotonic_ns() - max(last_message_ns[0], told_ns)) / 1e9
        if idle_s > DRAIN_IDLE_S or time.monotonic() > drain_deadline:
            break
        await asyncio.sleep(0.05)
    loop_cpu_s = time.thread_time() - cpu_loop
    process_cpu_s = time.process_time() - cpu_process
    pipe.send("drained")
    await loop.run_in_executor(None, pipe.recv)  # finish: the parent has read the machine
    tick_crash = None
    if ticking is not None:
        if ticking.done() and ticking.exception() is not None:
            tick_crash = repr(ticking.exception())
        ticking.cancel()
    receiving.cancel()
    await asyncio.gather(receiving, *([ticking] if ticking else []), return_exceptions=True)
    if executor is not None:
        executor.shutdown(wait=True, cancel_futures=True)
    bases.close()
    stats = planning.stats if planning is not None else None
    ticks = side.ticks if side is not None else None
    pipe.send(
        {
            "records": records,
            "counts": dict(counts),
            "received": received[0],
            "loop_cpu_s": loop_cpu_s,
            "process_cpu_s": process_cpu_s,
            "bases_sent": bases.sent,
            "warmup_s": warmup_s,
            "tick_crash": tick_crash,
            "tick_compute_s": list(stats.compute_s) if stats else [],
            "tick_install_s": list(stats.install_s) if stats else [],
            "tick_overruns": stats.overruns if stats else 0,
            "tick_failures": stats.failures if stats else 0,
            "dispatch_ms": ticks.dispatch_ms if ticks else [],
            "plan_ms": ticks.plan_ms if ticks else [],
            "kernel_ms": ticks.kernel_ms if ticks else [],
            "intake_ms": ticks.intake_ms if ticks else [],
            "tick_violations": dict(ticks.violations) if ticks else {},
            "trips": ticks.trips if ticks else 0,
            "picked": ticks.picked if ticks else 0,
            "delivered": ticks.delivered if ticks else 0,
            "kernel_violations": (
                {k.value: v for k, v in side.control.kernel.violation_counts().items()}
                if side
                else {}
            ),
        }
    )
