"""One phase: a fresh ingest process and a fresh publisher process, started together,
joined at the end; and the broker of our own, if asked for."""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from benchmarks.fleet_telemetry.ingest import DRAIN_MAX_S, IngestJob, ingest_main
from benchmarks.fleet_telemetry.machine import MachineSample, machine_load
from benchmarks.fleet_telemetry.publisher import READY_TIMEOUT_S, PublisherJob, publisher_main
from benchmarks.fleet_telemetry.report import figures
from benchmarks.fleet_telemetry.site import Fleet

SETUP_TIMEOUT_S = 300.0  # the ingest builds the floor and runs the first tick before "ready"


def _receive(pipe: Connection, process: multiprocessing.process.BaseProcess, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while not pipe.poll(0.2):
        if not process.is_alive():
            raise RuntimeError(f"the {process.name} process died (exit code {process.exitcode})")
        if time.monotonic() > deadline:
            raise TimeoutError(f"the {process.name} process did not answer in {timeout:.0f} s")
    return pipe.recv()


def run_phase(
    args: argparse.Namespace, fleet: Fleet, phase: str, broker_pid: int | None
) -> dict[str, Any]:
    manufacturer = f"bench{secrets.token_hex(4)}"  # topics of this phase only
    ctx = multiprocessing.get_context("spawn")
    ingest_pipe, ingest_end = ctx.Pipe()
    publisher_pipe, publisher_end = ctx.Pipe()
    bases_in, bases_out = ctx.Pipe(duplex=False)  # ingest → AGVs
    ingest = ctx.Process(
        target=ingest_main,
        args=(
            IngestJob(
                host=args.host,
                port=args.port,
                manufacturer=manufacturer,
                fleet=fleet,
                phase=phase,
                lookahead=args.lookahead,
                tick_period_s=args.tick_period,
                worker_nice=args.worker_nice,
            ),
            ingest_end,
            bases_out,
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
                fleet=fleet,
                hz=args.hz,
                seconds=args.seconds,
                connections=min(args.connections, fleet.agvs),
                speed_nodes_per_s=args.speed,
                follow=phase != "receive",
            ),
            publisher_end,
            bases_in,
        ),
        name="publisher",
    )
    ingest.start()
    publisher.start()
    bases_in.close()  # the children hold their ends
    bases_out.close()
    try:
        if _receive(ingest_pipe, ingest, SETUP_TIMEOUT_S) != "ready":
            raise RuntimeError("the ingest process did not get ready")
        if _receive(publisher_pipe, publisher, READY_TIMEOUT_S) != "ready":
            raise RuntimeError("the publisher process did not get ready")
        before = MachineSample.take()
        start_ns = time.monotonic_ns() + 200_000_000
        ingest_pipe.send(start_ns)
        publisher_pipe.send(start_ns)
        published = _receive(publisher_pipe, publisher, args.seconds * 3 + READY_TIMEOUT_S)
        total = fleet.agvs * published["reports"]
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
    load["load_average"] = [round(x, 2) for x in os.getloadavg()]
    return figures(args, phase, published, ingested, load)


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
