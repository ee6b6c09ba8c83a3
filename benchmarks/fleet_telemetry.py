"""Telemetry ingest of 500 simulated AGVs at 2 Hz through Mosquitto, with the latency from
each AGV `state` to the decision it enables (issue 5: p95 ≤ 100 ms).

    python -m benchmarks.fleet_telemetry --agvs 500 --hz 2 --seconds 30 --repeat 3

**Ingest-to-decision latency**, per state message: from the moment the simulated AGV hands
the encoded `state` to its MQTT client (a CLOCK_MONOTONIC reading taken just before
`publish`) until the controller side has taken it in and made the decision it enables:

1. received it through the edge's own MQTT connection (`edge.mqtt.connection`, aiomqtt,
   subscribed to `uagv/v2/{manufacturer}/+/state` at QoS 0, as `edge.mqtt.topics` routes it),
2. decoded the JSON and had the AGV's VDA 5050 master control parse and validate it
   (`AgvMaster.on_state`, one master per AGV from `controller.service.agv_link.master_for`),
3. confirmed the AGV's `lastNodeId` with the reservation kernel, freeing the nodes and
   edges behind it (`ReservationKernel.confirm`), and
4. requested the AGV's next base extension along its current plan (`ReservationKernel
   .request`, via `controller.traffic.ingest.BaseExtender`): the base it would now release.

Encoding that base as an order update and publishing it is not included.

The publisher (the AGVs) and the ingest (the controller) are separate processes, as the
AGVs and the edge are separate machines: in one process they would fight over one GIL and
each would inflate the other's figures. VDA 5050 `state` allows no extra top-level field
for a precise send time (and its `timestamp` has millisecond resolution), so each side
keeps its own table keyed by (AGV, headerId): the publisher its send times, the ingest its
receive and decision times, both read from CLOCK_MONOTONIC, which is one clock for all the
processes of a Linux machine. The parent joins the tables after the run.

The floor is a generated grid of 4x4-node tiles; each AGV drives round the 12-node rim of
its own tile, one node per state (2 nodes/s), so every state frees the node behind it and
extends the base by one. The AGVs drive open loop (nobody sends them orders), so their
circuits are disjoint and every request is granted; a refusal would show in the figures.
When states are lost an AGV can get more than `--lookahead` nodes past its last confirmed
node: the confirm is refused (counted as `violation:confirm_not_held`) and the benchmark
puts the AGV back where it says it is, which a controller would never do.

Phases, each with fresh processes, interleaved in every repetition:

- `receive`: the baseline. The ingest only receives and reads the headerId (no JSON, no
  decision): the broker's and the MQTT client's share of the latency.
- `decide`: the decision path above; plans stay as they were at the start (each AGV's
  circuit), no planning tick.
- `process`: the decision path while the planning tick runs every `--tick-period` s in a
  one-worker process pool (`edge.planning.PlanningLoop`): the design. The loop takes a
  snapshot (each AGV's node), the worker plans, the loop installs the plans and runs the
  kernel's `check`. States keep being decided against the plans installed before. The
  worker runs `--worker-nice` lower than the ingest: when the CPU is short, the states win
  it and the tick runs late (its plans reach far enough ahead to cover that).
- `thread`: the same tick in a worker thread: the GIL lets it take the loop's time.
- `inline`: the same tick on the event loop itself: what happens when states wait for it.

The tick is a **stand-in** for the motion planner (`controller/traffic/planner.py` is not
on this branch yet): it plans each AGV `--horizon` nodes ahead along its circuit from the
snapshot node and then burns pure-Python CPU until `--tick-ms` of its own CPU time have
passed (default 300 ms: the planner's budget for 500 AGVs).

Also printed: messages offered, received and lost; the offered rate and how late the
publisher sent against its schedule (so the offered load is known to be N x hz); CPU per
message on the ingest's event loop; and what else kept the machine busy during each phase
(CPU of every other process, from /proc).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from array import array
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from benchmarks.common import CLK_TCK, median, percentile, spread, write_json

PHASES = ("receive", "decide", "process", "thread", "inline")
TICK_PHASES = ("process", "thread", "inline")
TILE = 4  # nodes per side of each AGV's tile: a 12-node circuit round its rim
NODE_SPACING_M = 1.0
MAP_ID = "bench-floor"
VDA_VERSION = "2.1.0"
RELEASED_AHEAD = 3  # nodes of its order an AGV reports released ahead of it
HORIZON_AHEAD = 2  # and not yet released after those
READY_TIMEOUT_S = 60.0  # a process connecting to the broker (spawn imports the project)
DRAIN_IDLE_S = 1.5  # after publishing stops: no message for this long, the ingest is done
DRAIN_MAX_S = 60.0
HEADER_ID = re.compile(rb'"headerId":\s*(\d+)')
TARGET_P95_MS = 100.0  # issue 5 acceptance


# ---------------------------------------------------------------- the floor and the AGVs


@dataclass(frozen=True)
class Floor:
    """A grid of `width` x `height` nodes, 1 m apart; node (x, y) is y * width + x."""

    width: int
    height: int
    circuits: tuple[tuple[int, ...], ...]  # each AGV's circuit, in driving order

    @property
    def node_count(self) -> int:
        return self.width * self.height

    def edges(self) -> list[tuple[int, int]]:
        edges = []
        for node in range(self.node_count):
            x, y = node % self.width, node // self.width
            if x + 1 < self.width:
                edges.append((node, node + 1))
            if y + 1 < self.height:
                edges.append((node, node + self.width))
        return edges

    def xy(self, node: int) -> tuple[float, float]:
        return (node % self.width) * NODE_SPACING_M, (node // self.width) * NODE_SPACING_M


def node_id(node: int) -> str:
    return f"n{node}"


def tile_floor(agvs: int, tile: int = TILE) -> Floor:
    """One `tile` x `tile` block of the grid per AGV, its circuit the block's rim."""
    if tile < 2:
        raise ValueError("a tile needs at least 2 nodes a side")
    cols = math.ceil(math.sqrt(agvs))
    rows = math.ceil(agvs / cols)
    width = cols * tile
    rim = (
        [(x, 0) for x in range(tile)]
        + [(tile - 1, y) for y in range(1, tile)]
        + [(x, tile - 1) for x in range(tile - 2, -1, -1)]
        + [(0, y) for y in range(tile - 2, 0, -1)]
    )
    circuits = []
    for i in range(agvs):
        x0, y0 = (i % cols) * tile, (i // cols) * tile
        circuits.append(tuple((y0 + y) * width + x0 + x for x, y in rim))
    return Floor(width, rows * tile, tuple(circuits))


def serial(i: int) -> str:
    return f"agv{i:04d}"


def vda_now() -> str:
    now = datetime.now(UTC)
    return f"{now:%Y-%m-%dT%H:%M:%S}.{now.microsecond // 1000:03d}Z"


def state_message(
    floor: Floor, manufacturer: str, agv: int, header_id: int, timestamp: str
) -> dict[str, Any]:
    """The `state` of AGV `agv` at its `header_id`-th report: it has just reached the next
    node of its circuit, with its (never-ending) order's next nodes released ahead. Written
    from VDA 5050 2.1 (`state.schema`), not from the controller's code."""
    circuit = floor.circuits[agv]
    step = header_id  # one node per state
    here = circuit[step % len(circuit)]
    ahead = [circuit[(step + j) % len(circuit)] for j in range(1, RELEASED_AHEAD + HORIZON_AHEAD)]
    x, y = floor.xy(here)
    nx, ny = floor.xy(ahead[0])
    serial_number = serial(agv)
    order_id = f"{serial_number}-run"
    return {
        "headerId": header_id,
        "timestamp": timestamp,
        "version": VDA_VERSION,
        "manufacturer": manufacturer,
        "serialNumber": serial_number,
        "maps": [{"mapId": MAP_ID, "mapVersion": "1", "mapStatus": "ENABLED"}],
        "orderId": order_id,
        "orderUpdateId": step,
        "lastNodeId": node_id(here),
        "lastNodeSequenceId": 2 * step,
        "nodeStates": [
            {
                "nodeId": node_id(node),
                "sequenceId": 2 * (step + j + 1),
                "released": j < RELEASED_AHEAD - 1,
            }
            for j, node in enumerate(ahead)
        ],
        "edgeStates": [
            {
                "edgeId": f"e{a}-{b}",
                "sequenceId": 2 * (step + j) + 1,
                "released": j < RELEASED_AHEAD - 1,
            }
            for j, (a, b) in enumerate(zip([here, *ahead], ahead, strict=False))
        ],
        "agvPosition": {
            "x": x,
            "y": y,
            "theta": round(math.atan2(ny - y, nx - x), 4),
            "mapId": MAP_ID,
            "positionInitialized": True,
            "localizationScore": 1.0,
        },
        "velocity": {"vx": 2 * NODE_SPACING_M, "vy": 0.0, "omega": 0.0},
        "loads": [],
        "driving": True,
        "paused": False,
        "newBaseRequest": False,
        "distanceSinceLastNode": 0.0,
        "actionStates": [],
        "batteryState": {"batteryCharge": 80.0, "batteryVoltage": 48.2, "charging": False},
        "operatingMode": "AUTOMATIC",
        "errors": [],
        "information": [],
        "safetyState": {"eStop": "NONE", "fieldViolation": False},
    }


# ---------------------------------------------------------------- the publisher process


@dataclass(frozen=True)
class PublisherJob:
    host: str
    port: int
    manufacturer: str
    floor: Floor
    hz: float
    seconds: float
    connections: int


def publisher_main(job: PublisherJob, pipe: Connection) -> None:
    """The AGVs: `connections` paho clients share them; every AGV publishes a state every
    1/hz s, the AGVs evenly staggered. No network thread: `publish` writes to the socket in
    the calling thread, so the send time is taken right before the bytes go out.

    Every state is encoded before the clock starts, with a placeholder timestamp that the
    current one overwrites when it is sent: the AGVs are other machines in reality, so their
    simulation should take as little of this one's CPU as it can."""
    import paho.mqtt.client as paho

    agvs = len(job.floor.circuits)
    reports = int(job.seconds * job.hz)
    total = agvs * reports
    stamp = vda_now()
    encoded: list[tuple[bytes, bytes]] = []  # each state split round its timestamp
    for s in range(total):
        k, i = divmod(s, agvs)
        body = json.dumps(state_message(job.floor, job.manufacturer, i, k, stamp)).encode()
        before, _, after = body.partition(stamp.encode())
        encoded.append((before, after))
    clients = []
    for c in range(job.connections):
        client = paho.Client(
            paho.CallbackAPIVersion.VERSION2,
            client_id=f"{job.manufacturer}-pub{c}",
            protocol=paho.MQTTv311,
        )
        client.connect(job.host, job.port, keepalive=60)
        client.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not client.is_connected():
            client.loop(timeout=0.05)
            if time.monotonic() > deadline:
                raise TimeoutError(f"publisher connection {c} got no CONNACK")
        clients.append(client)
    topics = [f"uagv/v2/{job.manufacturer}/{serial(i)}/state" for i in range(agvs)]
    send_ns = array("q", bytes(8 * total))
    lag_ns = array("q", bytes(8 * total))
    pipe.send("ready")
    start_ns: int = pipe.recv()
    cpu_before = time.process_time()
    interval_ns = 1e9 / (agvs * job.hz)
    service_every_ns = 50_000_000  # keepalive and reads for every client, at most this far apart
    serviced = time.monotonic_ns()
    failures = 0
    for s in range(total):
        i = s % agvs
        due = start_ns + int(s * interval_ns)
        now = time.monotonic_ns()
        if due > now:
            time.sleep((due - now) / 1e9)
        before, after = encoded[s]
        payload = before + vda_now().encode() + after
        sent = time.monotonic_ns()
        info = clients[i % len(clients)].publish(topics[i], payload, qos=0)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            failures += 1
        send_ns[s] = sent
        lag_ns[s] = sent - due
        if sent - serviced > service_every_ns:
            for client in clients:
                client.loop(timeout=0)
            serviced = sent
    cpu = time.process_time() - cpu_before
    for client in clients:
        client.loop(timeout=0.05)
        client.disconnect()
    pipe.send(
        {
            "send_ns": send_ns,
            "lag_ns": lag_ns,
            "cpu_s": cpu,
            "failures": failures,
            "reports": reports,
        }
    )


# ---------------------------------------------------------------- the planning tick (stand-in)

_planner: _StandInPlanner | None = None  # the worker's, made by its initializer


@dataclass(frozen=True)
class _StandInPlanner:
    circuits: tuple[tuple[int, ...], ...]
    horizon: int
    tick_s: float


def init_stand_in(circuits: tuple[tuple[int, ...], ...], horizon: int, tick_ms: float) -> None:
    global _planner
    _planner = _StandInPlanner(circuits, horizon, tick_ms / 1000)


def init_worker(nice: int, *stand_in: Any) -> None:
    """The planning worker process: lower its priority by `nice`, so that whenever the CPU is
    short the state path wins it, then build the planner."""
    os.nice(nice)
    init_stand_in(*stand_in)


def stand_in_tick(nodes: list[int]) -> tuple[list[list[int]], float]:
    """Each AGV's next `horizon` nodes from `nodes[i]` along its circuit, then CPU burnt in
    pure Python (holding the GIL, like the planner) until the tick has used `tick_ms` of
    CPU. Returns the plans and the CPU seconds spent."""
    planner = _planner
    assert planner is not None, "init_stand_in first"
    started = time.thread_time()
    plans = []
    for circuit, node in zip(planner.circuits, nodes, strict=True):
        at = circuit.index(node) if node in circuit else 0
        plans.append([circuit[(at + j) % len(circuit)] for j in range(planner.horizon)])
    while time.thread_time() - started < planner.tick_s:
        sum(range(2000))  # ~50 µs of interpreter work per round
    return plans, time.thread_time() - started


# ---------------------------------------------------------------- the ingest process


@dataclass(frozen=True)
class IngestJob:
    host: str
    port: int
    manufacturer: str
    floor: Floor
    phase: str
    lookahead: int
    horizon: int
    tick_ms: float
    tick_period_s: float
    worker_nice: int


@dataclass
class _Records:
    agv: array[int]
    header: array[int]
    recv_ns: array[int]
    done_ns: array[int]

    @classmethod
    def empty(cls) -> _Records:
        return cls(array("l"), array("l"), array("q"), array("q"))

    def add(self, agv: int, header: int, recv_ns: int, done_ns: int) -> None:
        self.agv.append(agv)
        self.header.append(header)
        self.recv_ns.append(recv_ns)
        self.done_ns.append(done_ns)


def ingest_main(job: IngestJob, pipe: Connection) -> None:
    asyncio.run(_ingest(job, pipe))


async def _ingest(job: IngestJob, pipe: Connection) -> None:
    from controller.domain.layout import AgvSpec
    from controller.service.agv_link import master_for
    from controller.traffic.ingest import BaseExtender
    from controller.traffic.kernel import ReservationKernel
    from controller.vda5050.errors import MalformedMessage
    from edge.codecs.common import parse_json_object
    from edge.codecs.errors import PayloadError
    from edge.mqtt.connection import MqttConnection, Publication
    from edge.mqtt.topics import Kind, Route, agv_topic
    from edge.planning import PlanningLoop

    floor = job.floor
    agvs = len(floor.circuits)
    serials = [serial(i) for i in range(agvs)]
    agv_index = {s: i for i, s in enumerate(serials)}
    records = _Records.empty()
    counts: Counter[str] = Counter()
    kernel = ReservationKernel(floor.node_count, floor.edges())
    node_index = {node_id(n): n for n in range(floor.node_count)}
    extender = BaseExtender(kernel, node_index, lookahead=job.lookahead)
    masters = [
        master_for(AgvSpec(s, job.manufacturer, node_id(c[0]), 2.0), job.manufacturer)
        for s, c in zip(serials, floor.circuits, strict=True)
    ]
    for s, circuit in zip(serials, floor.circuits, strict=True):
        kernel.place(s, circuit[0])
    # Until a tick replans, each AGV's plan is its circuit, twice round from its start node.
    extender.install({s: c + c for s, c in zip(serials, floor.circuits, strict=True)})
    monotonic_ns = time.monotonic_ns
    last_message_ns = [0]
    received = [0]  # messages handed to us, whatever became of them

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
        serial_number = topic.split("/", 4)[3]
        agv = agv_index.get(serial_number, -1)
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
        try:
            decision = extender.on_state(serial_number, state.last_node_id)
        except Exception:
            counts["errors"] += 1
            raise
        done = monotonic_ns()
        records.add(agv, state.header.header_id, recv, done)
        if decision is None:
            counts["off_floor"] += 1
        elif decision.violation is not None:
            counts[f"violation:{decision.violation.kind.value}"] += 1
            # Only here, never in a controller: the AGV drove on past its base (states were
            # lost, so it went more than `lookahead` nodes unconfirmed; it drives open loop),
            # and would never be confirmed again. Put it where it says it is, so that its
            # next states take the decision path again. Its own circuit is free there.
            kernel.remove(serial_number)
            kernel.place(serial_number, decision.node)
        elif not decision.planned:
            counts["unplanned"] += 1
        else:
            counts["extended" if decision.released else "not_extended"] += 1
            if decision.refusal is not None:
                counts[f"refused:{decision.refusal.value}"] += 1

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
    handle = receive_only if job.phase == "receive" else decide
    receiving = asyncio.create_task(connection.run([route], handle))

    tick_cpu_s: list[float] = []
    inline_cpu_s = [0.0]
    executor: Executor | None = None
    planning: PlanningLoop[list[int], tuple[list[list[int]], float]] | None = None
    if job.phase in TICK_PHASES:
        init_args = (floor.circuits, job.horizon, job.tick_ms)
        if job.phase == "process":
            executor = ProcessPoolExecutor(
                1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=init_worker,
                initargs=(job.worker_nice, *init_args),
            )
            executor.submit(time.sleep, 0).result()  # the worker is up before we start
        elif job.phase == "thread":
            executor = ThreadPoolExecutor(1, initializer=init_stand_in, initargs=init_args)
        else:
            init_stand_in(*init_args)
        started = time.monotonic()

        def install(result: tuple[list[list[int]], float]) -> None:
            plans, cpu = result
            tick_cpu_s.append(cpu)
            if executor is None:
                inline_cpu_s[0] += cpu
            extender.install(dict(zip(serials, plans, strict=True)))
            kernel.check(time.monotonic() - started)

        planning = PlanningLoop(
            period_s=job.tick_period_s,
            snapshot=lambda: [kernel.current_node(s) for s in serials],
            compute=stand_in_tick,
            install=install,
            executor=executor,
        )

    await connection.connected.wait()  # subscribed before it is set
    pipe.send("ready")
    loop = asyncio.get_running_loop()
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
    if ticking is not None:
        ticking.cancel()
    receiving.cancel()
    await asyncio.gather(receiving, *([ticking] if ticking else []), return_exceptions=True)
    if executor is not None:
        executor.shutdown(wait=True, cancel_futures=True)
    stats = planning.stats if planning is not None else None
    pipe.send(
        {
            "records": records,
            "counts": dict(counts),
            "received": received[0],
            "loop_cpu_s": loop_cpu_s,
            "process_cpu_s": process_cpu_s,
            "inline_tick_cpu_s": inline_cpu_s[0],
            "tick_cpu_s": tick_cpu_s,
            "tick_compute_s": list(stats.compute_s) if stats else [],
            "tick_install_s": list(stats.install_s) if stats else [],
            "tick_overruns": stats.overruns if stats else 0,
            "tick_failures": stats.failures if stats else 0,
            "violations": {k.value: v for k, v in kernel.violation_counts().items()},
        }
    )


# ---------------------------------------------------------------- what else loads the machine


@dataclass(frozen=True)
class MachineSample:
    """Busy CPU of the whole machine and of every process, from /proc."""

    at: float
    busy_s: float
    processes: dict[int, tuple[int, float, str]]  # pid → (parent pid, CPU seconds, name)

    @classmethod
    def take(cls) -> MachineSample:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
        busy = (user + nice + system + irq + softirq + steal) / CLK_TCK
        processes = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                raw = (entry / "stat").read_text()
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                continue
            name = raw[raw.index("(") + 1 : raw.rindex(")")]
            rest = raw.rpartition(")")[2].split()
            cpu = (int(rest[11]) + int(rest[12])) / CLK_TCK
            processes[int(entry.name)] = (int(rest[1]), cpu, name)
        return cls(time.monotonic(), busy, processes)


def _descendants(processes: dict[int, tuple[int, float, str]], root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, (parent, _, _) in processes.items():
        children.setdefault(parent, []).append(pid)
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        found.add(pid)
        todo.extend(children.get(pid, ()))
    return found


def machine_load(
    before: MachineSample, after: MachineSample, broker_pid: int | None
) -> dict[str, Any]:
    """Cores kept busy during a phase: all, by this benchmark (its processes and the
    broker), and by everything else, with the busiest other processes by name."""
    wall = after.at - before.at
    ours = _descendants(after.processes, os.getpid())
    spent: dict[int, float] = {}
    for pid, (_, cpu, _) in after.processes.items():
        spent[pid] = cpu - before.processes.get(pid, (0, 0.0, ""))[1]
    broker = spent.get(broker_pid, 0.0) if broker_pid is not None else 0.0
    ours_s = sum(spent[pid] for pid in ours if pid in spent)
    busy = after.busy_s - before.busy_s
    others = sorted(
        (
            (cpu, after.processes[pid][2], pid)
            for pid, cpu in spent.items()
            if pid not in ours and pid != broker_pid and cpu > 0
        ),
        reverse=True,
    )
    other_s = max(0.0, busy - ours_s - broker)
    return {
        "wall_s": wall,
        "busy_cores": busy / wall,
        "benchmark_cores": ours_s / wall,
        "broker_cores": broker / wall,
        "other_cores": other_s / wall,
        # processes that came and went within the phase: busy, but no pid left to name
        "other_gone_cores": max(0.0, other_s - sum(cpu for cpu, _, _ in others)) / wall,
        "top_others": [
            {"pid": pid, "name": _command(pid, name), "cores": round(cpu / wall, 3)}
            for cpu, name, pid in others[:4]
        ],
    }


def _command(pid: int, name: str) -> str:
    """A process's name, with its script for an interpreter (`python exp2.py`)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return name
    script = next((a.decode(errors="replace") for a in argv[1:] if a.endswith(b".py")), None)
    return f"{name} {Path(script).name}" if script else name


def listener_pid(port: int) -> int | None:
    """The process listening on TCP `port` (the broker), if /proc lets us see it."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            cols = line.split()
            if cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:  # LISTEN
                inodes.add(f"socket:[{cols[9]}]")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) in inodes:
                    return int(entry.name)
        except (FileNotFoundError, PermissionError, ProcessLookupError):
            continue
    return None


# ---------------------------------------------------------------- one phase


def _receive(pipe: Connection, process: multiprocessing.process.BaseProcess, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while not pipe.poll(0.2):
        if not process.is_alive():
            raise RuntimeError(f"the {process.name} process died (exit code {process.exitcode})")
        if time.monotonic() > deadline:
            raise TimeoutError(f"the {process.name} process did not answer in {timeout:.0f} s")
    return pipe.recv()


def run_phase(args: argparse.Namespace, phase: str, broker_pid: int | None) -> dict[str, Any]:
    floor = tile_floor(args.agvs)
    manufacturer = f"bench{secrets.token_hex(4)}"  # topics of this phase only
    ctx = multiprocessing.get_context("spawn")
    ingest_pipe, ingest_end = ctx.Pipe()
    publisher_pipe, publisher_end = ctx.Pipe()
    ingest = ctx.Process(
        target=ingest_main,
        args=(
            IngestJob(
                host=args.host,
                port=args.port,
                manufacturer=manufacturer,
                floor=floor,
                phase=phase,
                lookahead=args.lookahead,
                horizon=args.horizon,
                tick_ms=args.tick_ms,
                tick_period_s=args.tick_period,
                worker_nice=args.worker_nice,
            ),
            ingest_end,
        ),
        name="ingest",
    )
    publisher = ctx.Process(
        target=publisher_main,
        args=(
            PublisherJob(
                host=args.host,
                port=args.port,
                manufacturer=manufacturer,
                floor=floor,
                hz=args.hz,
                seconds=args.seconds,
                connections=min(args.connections, args.agvs),
            ),
            publisher_end,
        ),
        name="publisher",
    )
    ingest.start()
    publisher.start()
    try:
        if _receive(ingest_pipe, ingest, READY_TIMEOUT_S) != "ready":
            raise RuntimeError("the ingest process did not get ready")
        if _receive(publisher_pipe, publisher, READY_TIMEOUT_S) != "ready":
            raise RuntimeError("the publisher process did not get ready")
        before = MachineSample.take()
        start_ns = time.monotonic_ns() + 200_000_000
        ingest_pipe.send(start_ns)
        publisher_pipe.send(start_ns)
        published = _receive(publisher_pipe, publisher, args.seconds * 3 + READY_TIMEOUT_S)
        total = args.agvs * published["reports"]
        ingest_pipe.send(total - published["failures"])
        if _receive(ingest_pipe, ingest, DRAIN_MAX_S + 10) != "drained":
            raise RuntimeError("the ingest process did not drain")
        after = MachineSample.take()
        ingest_pipe.send("finish")
        ingested = _receive(ingest_pipe, ingest, READY_TIMEOUT_S)
    finally:
        for process in (publisher, ingest):
            process.join(10)
            if process.is_alive():
                process.kill()
                process.join()
    load = machine_load(before, after, broker_pid)
    return figures(args, phase, published, ingested, load)


def _ms(values: Sequence[float]) -> dict[str, float]:
    return {
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": max(values) if values else math.nan,
    }


def figures(
    args: argparse.Namespace,
    phase: str,
    published: dict[str, Any],
    ingested: dict[str, Any],
    load: dict[str, Any],
) -> dict[str, Any]:
    agvs, reports = args.agvs, published["reports"]
    total = agvs * reports
    warmup = math.ceil(args.warmup * args.hz)  # reports per AGV left out of the latencies
    send_ns, lag_ns = published["send_ns"], published["lag_ns"]
    records: _Records = ingested["records"]
    seen = bytearray(total)
    duplicates = strays = 0
    latency, to_handler, in_handler = [], [], []
    for agv, header, recv, done in zip(
        records.agv, records.header, records.recv_ns, records.done_ns, strict=True
    ):
        s = header * agvs + agv
        if not 0 <= s < total:
            strays += 1
            continue
        if seen[s]:
            duplicates += 1
            continue
        seen[s] = 1
        if header < warmup:
            continue
        sent = send_ns[s]
        latency.append((done - sent) / 1e6)
        to_handler.append((recv - sent) / 1e6)
        in_handler.append((done - recv) / 1e6)
    received = sum(seen)
    offered = total - published["failures"]
    span_s = (send_ns[total - 1] - send_ns[0]) / 1e9 if total > 1 else math.nan
    lags = [lag / 1e6 for lag in lag_ns[warmup * agvs :]]
    messages = max(ingested["received"], 1)
    publish_cpu = published["cpu_s"]
    return {
        "phase": phase,
        "agvs": agvs,
        "hz": args.hz,
        "offered": offered,
        "received": received,
        "lost": offered - received,
        "duplicates": duplicates,
        "strays": strays,
        "publish_failures": published["failures"],
        "offered_per_s": (total - 1) / span_s if span_s > 0 else math.nan,
        "publisher_lag_ms": _ms(lags),
        "publisher_cores": publish_cpu / span_s if span_s > 0 else math.nan,
        "latency_ms": _ms(latency),
        "to_handler_ms": _ms(to_handler),
        "in_handler_ms": _ms(in_handler),
        "measured": len(latency),
        "ingest_loop_cpu_us": (ingested["loop_cpu_s"] - ingested["inline_tick_cpu_s"])
        / messages
        * 1e6,
        "ingest_process_cores": ingested["process_cpu_s"] / load["wall_s"],
        "decisions": ingested["counts"],
        "kernel_violations": ingested["violations"],
        "tick": {
            "ticks": len(ingested["tick_cpu_s"]),
            "cpu_ms": _ms([c * 1000 for c in ingested["tick_cpu_s"]]),
            "compute_ms": _ms([c * 1000 for c in ingested["tick_compute_s"]]),
            "install_ms": _ms([c * 1000 for c in ingested["tick_install_s"]]),
            "overruns": ingested["tick_overruns"],
            "failures": ingested["tick_failures"],
        },
        "machine": load,
    }


# ---------------------------------------------------------------- output


def print_run(run: dict[str, Any]) -> None:
    lat, lag, machine = run["latency_ms"], run["publisher_lag_ms"], run["machine"]
    print(
        f"  {run['phase']:>8}: latency p50 {lat['p50']:.1f} p95 {lat['p95']:.1f} "
        f"p99 {lat['p99']:.1f} max {lat['max']:.1f} ms | offered {run['offered']} "
        f"({run['offered_per_s']:.0f}/s), received {run['received']}, lost {run['lost']} | "
        f"publisher lag p95 {lag['p95']:.1f} max {lag['max']:.1f} ms",
        flush=True,
    )
    to_h, in_h = run["to_handler_ms"], run["in_handler_ms"]
    print(
        f"            publish→handler p50 {to_h['p50']:.1f} p95 {to_h['p95']:.1f} ms, "
        f"in handler p50 {in_h['p50']:.2f} p95 {in_h['p95']:.2f} ms | ingest loop "
        f"{run['ingest_loop_cpu_us']:.0f} µs/msg, process {run['ingest_process_cores']:.2f} "
        f"cores | publisher {run['publisher_cores']:.2f} cores",
        flush=True,
    )
    tick = run["tick"]
    if tick["ticks"]:
        print(
            f"            tick: {tick['ticks']} ticks, CPU p50 {tick['cpu_ms']['p50']:.0f} ms, "
            f"snapshot→installed p50 {tick['compute_ms']['p50']:.0f} max "
            f"{tick['compute_ms']['max']:.0f} ms, install (on the loop) p50 "
            f"{tick['install_ms']['p50']:.1f} ms, overruns {tick['overruns']}, "
            f"failures {tick['failures']}",
            flush=True,
        )
    others = ", ".join(f"{o['name']} {o['cores']:.2f}" for o in machine["top_others"])
    others += f", exited {machine['other_gone_cores']:.2f}"
    print(
        f"            decisions {run['decisions']}, kernel violations "
        f"{run['kernel_violations'] or 0} | machine busy {machine['busy_cores']:.2f} cores: "
        f"benchmark {machine['benchmark_cores']:.2f}, broker {machine['broker_cores']:.2f}, "
        f"others {machine['other_cores']:.2f} ({others})",
        flush=True,
    )


def summary(runs: list[dict[str, Any]], phases: Sequence[str]) -> list[dict[str, Any]]:
    rows = []
    for phase in phases:
        mine = [r for r in runs if r["phase"] == phase]
        if not mine:
            continue
        rows.append(
            {
                "phase": phase,
                "runs": len(mine),
                **{
                    f"{q}_ms": [r["latency_ms"][q] for r in mine]
                    for q in ("p50", "p95", "p99", "max")
                },
                "lost": sum(r["lost"] for r in mine),
                "offered_per_s": [r["offered_per_s"] for r in mine],
                "publisher_lag_p95_ms": [r["publisher_lag_ms"]["p95"] for r in mine],
                "ingest_loop_cpu_us": [r["ingest_loop_cpu_us"] for r in mine],
                "other_cores": [r["machine"]["other_cores"] for r in mine],
            }
        )
    return rows


def print_summary(rows: list[dict[str, Any]]) -> None:
    print(
        "\n| phase | runs | p50 ms | p95 ms | p99 ms | max ms | lost | offered msg/s "
        "| publisher lag p95 ms | ingest loop µs/msg | other load (cores) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        cells = [
            row["phase"],
            row["runs"],
            spread(row["p50_ms"], "{:.1f}"),
            spread(row["p95_ms"], "{:.1f}"),
            spread(row["p99_ms"], "{:.1f}"),
            spread(row["max_ms"], "{:.0f}"),
            row["lost"],
            spread(row["offered_per_s"], "{:.0f}"),
            spread(row["publisher_lag_p95_ms"], "{:.1f}"),
            spread(row["ingest_loop_cpu_us"], "{:.0f}"),
            spread(row["other_cores"], "{:.2f}"),
        ]
        print("| " + " | ".join(str(c) for c in cells) + " |")
    print("(median of the runs, min-max in brackets)")


def verdict(rows: list[dict[str, Any]]) -> str:
    lines = []
    for row in rows:
        if row["phase"] == "receive":
            continue
        if any(math.isnan(p95) for p95 in row["p95_ms"]):
            lines.append(f"{row['phase']}: no state after the warm-up to judge")
            continue
        held = sum(p95 <= TARGET_P95_MS for p95 in row["p95_ms"])
        lines.append(
            f"{row['phase']}: p95 ≤ {TARGET_P95_MS:.0f} ms in {held} of {row['runs']} runs "
            f"(median p95 {median(row['p95_ms']):.1f} ms)"
        )
    return "; ".join(lines)


# ---------------------------------------------------------------- command line


def phase_list(value: str) -> list[str]:
    names = list(PHASES) if value == "all" else [p for p in value.split(",") if p]
    unknown = sorted(set(names) - set(PHASES))
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown phase {unknown or value!r}: {','.join(PHASES)}")
    return names


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--agvs", type=int, default=500)
    parser.add_argument("--hz", type=float, default=2.0, help="states per AGV per second")
    parser.add_argument("--seconds", type=float, default=30.0, help="publishing time per phase")
    parser.add_argument("--repeat", type=int, default=3, help="runs of every phase; medians")
    parser.add_argument("--phases", type=phase_list, default=list(PHASES), help="or: all")
    parser.add_argument("--tick-ms", type=float, default=300.0, help="stand-in tick CPU")
    parser.add_argument("--tick-period", type=float, default=1.0, help="seconds between ticks")
    parser.add_argument(
        "--worker-nice",
        type=int,
        default=10,
        help="how much lower the planning worker process runs than the ingest (os.nice)",
    )
    parser.add_argument(
        "--horizon",
        type=int,
        default=24,
        help="nodes each tick plans ahead (24: two laps, 12 s of driving, so that a late tick "
        "never runs the AGVs, which drive open loop, past the end of their plans)",
    )
    parser.add_argument("--lookahead", type=int, default=3, help="base nodes ahead of an AGV")
    parser.add_argument("--connections", type=int, default=10, help="publisher MQTT clients")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds left out of latency")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument(
        "--spawn-broker",
        action="store_true",
        help="run a Mosquitto of our own with the config the edge ships (edge/broker.py: "
        "set_tcp_nodelay, sized queues) on a free port instead of --host/--port",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write every figure here")
    args = parser.parse_args(argv)
    if args.horizon <= args.lookahead:
        parser.error("--horizon must be more than --lookahead")

    with contextlib.ExitStack() as stack:
        if args.spawn_broker:
            args.host, args.port, broker_pid = stack.enter_context(own_broker())
        elif args.host in ("127.0.0.1", "localhost"):
            broker_pid = listener_pid(args.port)
        else:
            broker_pid = None
        return _run(args, argv, broker_pid)


@contextlib.contextmanager
def own_broker() -> Iterator[tuple[str, int, int]]:
    """Mosquitto with the edge's shipped config on a free port: (host, port, pid)."""
    from edge.broker import MOSQUITTO_CONF, free_port

    mosquitto = shutil.which("mosquitto", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
    if mosquitto is None:
        raise SystemExit("--spawn-broker: mosquitto is not installed")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="wh-bench-broker-") as tmp:
        conf = Path(tmp) / "mosquitto.conf"
        conf.write_text(MOSQUITTO_CONF.format(port=port))
        proc = subprocess.Popen(
            [mosquitto, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit("--spawn-broker: mosquitto did not start") from None
                    time.sleep(0.05)
            yield "127.0.0.1", port, proc.pid
        finally:
            proc.terminate()
            proc.wait(10)


def _run(args: argparse.Namespace, argv: Sequence[str] | None, broker_pid: int | None) -> int:
    machine = {
        "cores": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": sys.version.split()[0],
        "broker_pid": broker_pid,
    }
    print(
        f"{args.agvs} AGVs x {args.hz:g} Hz through {args.host}:{args.port}"
        f"{' (our own Mosquitto, the edge config)' if args.spawn_broker else ''} for "
        f"{args.seconds:g} s per phase, {args.repeat} runs; tick: stand-in burning "
        f"{args.tick_ms:g} ms CPU every {args.tick_period:g} s (process worker at nice "
        f"+{args.worker_nice}); machine: {machine['cores']} "
        f"cores, load average {' '.join(map(str, machine['load_average_at_start']))} at start",
        flush=True,
    )
    runs = []
    for repeat in range(args.repeat):
        print(f"run {repeat + 1} of {args.repeat}", flush=True)
        for phase in args.phases:
            run = run_phase(args, phase, broker_pid)
            run["repeat"] = repeat
            print_run(run)
            runs.append(run)
    rows = summary(runs, args.phases)
    print_summary(rows)
    print(verdict(rows))
    write_json(
        args.json,
        {
            "command": " ".join(["python -m benchmarks.fleet_telemetry", *(argv or sys.argv[1:])]),
            "machine": machine,
            "arguments": {k: v for k, v in vars(args).items() if k != "json"},
            "runs": runs,
            "summary": rows,
        },
    )
    failed = [r for r in runs if r["lost"] or r["decisions"].get("errors")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
