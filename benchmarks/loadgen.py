"""The HTTP load generator: closed-loop clients in processes of their own.

Each virtual client is one aiohttp session with one keep-alive HTTP/1.1 connection, sending
its next request as soon as the previous answer is read. Clients take the next body from
their process's share of a fixed list, so a phase sends exactly that many requests.

Why aiohttp and not httpx (already a dependency): against a trivial server on this machine
httpx.AsyncClient reached 750-1,180 req/s at 0.85-1.3 ms of client CPU per request, aiohttp
4,000-9,000 req/s at 0.09-0.2 ms (`python -m benchmarks.client_capacity` measures both).
With httpx the client, not the API, would set the figure near the 500-1,000 orders/s
targets, and take a core from the API on a 2-core machine.

Each process reports its own CPU time, so a reader can see whether the client was the limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

import aiohttp

from benchmarks.common import percentile

REQUEST_TIMEOUT_S = 120.0  # far above any latency seen; a hung request fails the phase loudly
SAMPLE_CHARS = 300  # of the first error body kept per status, to print


@dataclass(frozen=True)
class Job:
    """One process's share of a phase."""

    base_url: str
    path: str
    clients: int
    headers: dict[str, str]
    bodies: list[bytes] | None = None  # POST each; None: GET `count` times
    count: int = 0
    parse_orders: bool = False  # read `status` and the lines' `reserved_qty` from 201 answers


@dataclass
class Outcome:
    """What one process measured."""

    latencies_ms: array[float]
    statuses: Counter[str]  # HTTP status, or the exception's name when there was no answer
    order_statuses: Counter[str]
    reserved_units: int
    started: float  # time.monotonic(): one clock for every process on Linux
    finished: float
    cpu_s: float
    samples: dict[str, str]


@dataclass
class PhaseResult:
    requests: int
    wall_s: float
    latencies_ms: list[float]
    statuses: Counter[str]
    order_statuses: Counter[str]
    reserved_units: int
    client_cpu_s: float
    samples: dict[str, str] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.requests / self.wall_s

    def p(self, q: float) -> float:
        return percentile(self.latencies_ms, q)

    def errors(self, ok: str = "201") -> dict[str, int]:
        return {k: v for k, v in sorted(self.statuses.items()) if k != ok}

    @property
    def client_cpu_us_per_request(self) -> float:
        return self.client_cpu_s / self.requests * 1e6


class LoadGenerator:
    """A pool of load processes, kept for the whole benchmark: `prepare` opens the clients'
    connections, `go` starts them at once and gathers what they measured."""

    def __init__(self, processes: int) -> None:
        self._context = multiprocessing.get_context("spawn")  # no fork of a running loop
        self._pipes: list[Connection] = []
        self._procs: list[Any] = []
        self._busy: list[Connection] = []
        for _ in range(processes):
            ours, theirs = self._context.Pipe()
            proc = self._context.Process(target=_serve, args=(theirs,), daemon=True)
            proc.start()
            theirs.close()
            self._pipes.append(ours)
            self._procs.append(proc)

    def __enter__(self) -> LoadGenerator:
        return self

    def __exit__(self, *exc: object) -> None:
        for pipe in self._pipes:
            with contextlib.suppress(OSError):  # a process that died has closed its end
                pipe.send(None)
        for proc in self._procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()

    def prepare(
        self,
        base_url: str,
        path: str,
        *,
        clients: int,
        headers: dict[str, str],
        bodies: list[bytes] | None = None,
        count: int = 0,
        parse_orders: bool = False,
    ) -> None:
        """Hand each process its clients and its share of the requests; return when every
        client's connection is open."""
        total = len(bodies) if bodies is not None else count
        processes = min(len(self._pipes), clients)
        start = 0
        self._busy = []
        for i in range(processes):
            share_clients = clients // processes + (i < clients % processes)
            share = total * share_clients // clients
            if i == processes - 1:
                share = total - start
            job = Job(
                base_url=base_url,
                path=path,
                clients=share_clients,
                headers=headers,
                bodies=bodies[start : start + share] if bodies is not None else None,
                count=share,
                parse_orders=parse_orders,
            )
            start += share
            self._pipes[i].send(job)
            self._busy.append(self._pipes[i])
        for pipe in self._busy:
            answer = pipe.recv()
            if answer != "ready":
                raise RuntimeError(f"a load process failed to connect: {answer}")

    def go(self) -> PhaseResult:
        for pipe in self._busy:
            pipe.send("go")
        outcomes: list[Outcome] = []
        for pipe in self._busy:
            answer = pipe.recv()
            if not isinstance(answer, Outcome):
                raise RuntimeError(f"a load process failed: {answer}")
            outcomes.append(answer)
        latencies: list[float] = []
        statuses: Counter[str] = Counter()
        order_statuses: Counter[str] = Counter()
        samples: dict[str, str] = {}
        for o in outcomes:
            latencies.extend(o.latencies_ms)
            statuses.update(o.statuses)
            order_statuses.update(o.order_statuses)
            for key, text in o.samples.items():
                samples.setdefault(key, text)
        return PhaseResult(
            requests=len(latencies),
            wall_s=max(o.finished for o in outcomes) - min(o.started for o in outcomes),
            latencies_ms=latencies,
            statuses=statuses,
            order_statuses=order_statuses,
            reserved_units=sum(o.reserved_units for o in outcomes),
            client_cpu_s=sum(o.cpu_s for o in outcomes),
            samples=samples,
        )


# ---------------------------------------------------------------- inside a load process


def _serve(pipe: Connection) -> None:
    while (job := pipe.recv()) is not None:
        try:
            outcome = asyncio.run(_run(job, pipe))
        except Exception as exc:  # reported to the parent, which fails the benchmark
            pipe.send(f"{type(exc).__name__}: {exc}")
            continue
        pipe.send(outcome)


async def _run(job: Job, pipe: Connection) -> Outcome:
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    sessions = [
        aiohttp.ClientSession(
            job.base_url,
            connector=aiohttp.TCPConnector(limit=1),  # one keep-alive connection per client
            timeout=timeout,
            headers=job.headers,
        )
        for _ in range(job.clients)
    ]
    try:
        # Open every connection before the clock starts.
        for response in await asyncio.gather(*(s.get("/healthz") for s in sessions)):
            await response.read()
            response.release()
        pipe.send("ready")
        if pipe.recv() != "go":  # blocks the loop, which has nothing else to do meanwhile
            raise RuntimeError("expected 'go'")
        return await _drive(job, sessions)
    finally:
        await asyncio.gather(*(s.close() for s in sessions))


async def _drive(job: Job, sessions: list[aiohttp.ClientSession]) -> Outcome:
    bodies = job.bodies
    total = len(bodies) if bodies is not None else job.count
    latencies: array[float] = array("d")
    statuses: Counter[str] = Counter()
    order_statuses: Counter[str] = Counter()
    samples: dict[str, str] = {}
    reserved = 0
    taken = 0

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal taken, reserved
        perf = time.perf_counter
        while taken < total:
            i, taken = taken, taken + 1
            started = perf()
            try:
                if bodies is None:
                    request = session.get(job.path)
                else:
                    request = session.post(job.path, data=bodies[i])
                async with request as response:
                    data = await response.read()
                    key = str(response.status)
            except (aiohttp.ClientError, TimeoutError) as exc:
                key, data = type(exc).__name__, str(exc).encode()
            latencies.append((perf() - started) * 1000)
            statuses[key] += 1
            if key == "201" and job.parse_orders:
                order = json.loads(data)
                order_statuses[order["status"]] += 1
                reserved += sum(line["reserved_qty"] for line in order["lines"])
            elif not key.startswith("2") and key not in samples:
                samples[key] = data[:SAMPLE_CHARS].decode("utf-8", "replace")

    cpu = time.process_time()
    started = time.monotonic()
    await asyncio.gather(*(client(s) for s in sessions))
    finished = time.monotonic()
    return Outcome(
        latencies_ms=latencies,
        statuses=statuses,
        order_statuses=order_statuses,
        reserved_units=reserved,
        started=started,
        finished=finished,
        cpu_s=time.process_time() - cpu,
        samples=samples,
    )
