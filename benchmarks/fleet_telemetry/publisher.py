"""The AGVs: one process publishing every AGV's `state` at `hz` through the broker, each AGV
driving along the base the ingest last granted it, one node per `1 / speed` seconds.

The AGVs are other machines in reality, so their simulation takes as little of this one's
CPU as it can: `connections` paho clients share them, with no network thread (`publish`
writes to the socket in the calling thread, so the send time is taken right before the
bytes go out), and each state is a template with holes (wire.StateTemplate).

Ground truth is kept here, apart from the controller: every AGV's node. Moving onto a node
another AGV stands on is a conflict."""

from __future__ import annotations

import socket
import time
from array import array
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from benchmarks.fleet_telemetry.bases import BaseReader
from benchmarks.fleet_telemetry.site import Fleet, serial
from benchmarks.fleet_telemetry.wire import StateTemplate, vda_now

READY_TIMEOUT_S = 60.0  # a process connecting to the broker (spawn imports the project)
SERVICE_EVERY_NS = 50_000_000  # keepalive and reads for every client, at most this far apart


@dataclass(frozen=True)
class PublisherJob:
    host: str
    port: int
    manufacturer: str
    fleet: Fleet
    hz: float
    seconds: float
    connections: int
    speed_nodes_per_s: float
    follow: bool  # drive along granted bases (False: stand still, the receive baseline)


class Drive:
    """Every AGV's node and granted base; each state report moves it on if it is due to
    reach the next node and that node is granted."""

    def __init__(self, starts: tuple[int, ...], nodes_per_report: float) -> None:
        self.nodes = list(starts)
        self.bases: list[tuple[int, ...]] = [(node,) for node in starts]
        self._progress = [0.0] * len(starts)
        self._step = nodes_per_report
        self._at = {node: i for i, node in enumerate(starts)}
        self.moves = 0
        self.waits = 0  # reports at which an AGV was due to move on and had no node granted
        self.conflicts = 0
        self.off_base = 0  # reports at which an AGV's base did not hold its own node

    def grant(self, agv: int, base: tuple[int, ...]) -> None:
        self.bases[agv] = base

    def ahead(self, agv: int) -> tuple[int, ...]:
        """The granted nodes ahead of the AGV: what it reports still to drive."""
        base, node = self.bases[agv], self.nodes[agv]
        try:
            return base[base.index(node) + 1 :]
        except ValueError:
            return ()

    def report(self, agv: int) -> bool:
        """Whether the AGV is driving, after moving it on if it is due to."""
        progress = self._progress[agv] + self._step
        if progress < 1.0:
            self._progress[agv] = progress
            return True
        node, base = self.nodes[agv], self.bases[agv]
        try:
            at = base.index(node)
        except ValueError:
            self.off_base += 1
            at = len(base)
        if at + 1 >= len(base):
            self._progress[agv] = 1.0  # ready to go as soon as a node is granted
            self.waits += 1
            return False
        ahead = base[at + 1]
        other = self._at.get(ahead)
        if other is not None and other != agv:
            self.conflicts += 1
        if self._at.get(node) == agv:
            del self._at[node]
        self._at[ahead] = agv
        self.nodes[agv] = ahead
        self._progress[agv] = progress - 1.0
        self.moves += 1
        return True


def publisher_main(job: PublisherJob, pipe: Connection, bases_end: Connection) -> None:
    """Every AGV publishes a state every 1/hz s, the AGVs evenly staggered; the bases the
    ingest grants are read between two states."""
    import paho.mqtt.client as paho

    fleet = job.fleet
    layout = fleet.layout()
    node_ids, xy = layout.node_ids, layout.xy
    agvs = fleet.agvs
    reports = int(job.seconds * job.hz)
    total = agvs * reports
    drive = Drive(fleet.starts, job.speed_nodes_per_s / job.hz)
    templates = [StateTemplate(job.manufacturer, serial(i)) for i in range(agvs)]
    bases = BaseReader(bases_end)
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
    for agv, base in bases.read():  # the first tick's, granted before the start
        drive.grant(agv, base)
    received = 0
    cpu_before = time.process_time()
    interval_ns = 1e9 / (agvs * job.hz)
    serviced = time.monotonic_ns()
    failures = 0
    for s in range(total):
        k, i = divmod(s, agvs)
        due = start_ns + int(s * interval_ns)
        while True:
            now = time.monotonic_ns()
            if now >= due:
                break
            if bases.wait((due - now) / 1e9):
                for agv, base in bases.read():
                    drive.grant(agv, base)
                    received += 1
        for agv, base in bases.read():
            drive.grant(agv, base)
            received += 1
        driving = drive.report(i) if job.follow else False
        node = drive.nodes[i]
        x, y = xy[node]
        ahead = tuple(node_ids[n] for n in drive.ahead(i))
        payload = templates[i].encode(k, vda_now(), node_ids[node], x, y, driving, ahead)
        sent = time.monotonic_ns()
        info = clients[i % len(clients)].publish(topics[i], payload, qos=0)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            failures += 1
        send_ns[s] = sent
        lag_ns[s] = sent - due
        if sent - serviced > SERVICE_EVERY_NS:
            for client in clients:
                client.loop(timeout=0)
            serviced = sent
    cpu = time.process_time() - cpu_before
    for client in clients:
        client.loop(timeout=0.05)
        client.disconnect()
    result: dict[str, Any] = {
        "send_ns": send_ns,
        "lag_ns": lag_ns,
        "cpu_s": cpu,
        "failures": failures,
        "reports": reports,
        "drive": {
            "moves": drive.moves,
            "waits": drive.waits,
            "conflicts": drive.conflicts,
            "off_base": drive.off_base,
            "bases_received": received,
        },
    }
    pipe.send(result)
