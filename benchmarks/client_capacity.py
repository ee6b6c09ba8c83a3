"""How fast can the load generator go? Both HTTP clients against a trivial server.

A minimal asyncio server, in a process of its own, answers every request at once with a
fixed 201 shaped like the API's order answer; the client pushes order-sized POST bodies
over keep-alive connections and (aiohttp, as in the benchmarks) parses each answer. This is
why benchmarks.loadgen uses aiohttp: httpx.AsyncClient, already a dependency, costs six to
eight times more client CPU per request and cannot push the ~1,500 req/s the intake targets
need on this machine.

    python -m benchmarks.client_capacity --clients 1,8,64 --requests 10000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import socket
import time

import httpx

from benchmarks.common import ERP_HEADERS, free_port, int_list, markdown_table
from benchmarks.loadgen import LoadGenerator

BODY = (
    b'{"order_id":"BENCH-R1C8-000001","priority":5,"ship_to":{"name":"Bench Customer",'
    b'"line1":"1 Load Street","city":"Testville","postal_code":"12345","country":"DE"},'
    b'"carrier":"DHL","lines":[{"line_id":"10","sku":"SKU-0001","qty":2},'
    b'{"line_id":"20","sku":"SKU-0007","qty":1}]}'
)
START_DEADLINE_S = 10.0


def _answer() -> bytes:
    """A 201 with a body shaped and sized like the API's answer to BODY (≈ 1.3 kB)."""
    now = "2026-01-01T00:00:00.000000Z"
    lines = [
        {"line_id": i, "sku": sku, "qty": q, "reserved_qty": q, "picked_qty": 0, "shipped_qty": 0}
        | {"allocations": [{"bin": b, "tote_id": t, "qty": q}]}
        for i, sku, q, b, t in (
            ("10", "SKU-0001", 2, "A1-01", "TOTE-0001"),
            ("20", "SKU-0007", 1, "A2-02", "TOTE-0013"),
        )
    ]
    events = [
        {"event_id": f"api-{n:036d}", "type": kind, "occurred_at": now, "data": data}
        for n, (kind, data) in enumerate(
            (
                ("order.received", {"lines": 2}),
                ("order.reserved", {"lines": [{"line_id": "10", "qty": 2, "reserved_qty": 2}]}),
                ("order.released", {"site": "bench", "seq": 1}),
            )
        )
    ]
    order = json.loads(BODY) | {"site": "bench", "status": "reserved", "status_reason": None}
    order |= {"lines": lines, "parcels": [], "events": events}
    order |= {"created_at": now, "updated_at": now, "channel": None, "customer": None}
    body = json.dumps(order).encode()
    head = f"HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: {len(body)}"
    return head.encode() + b"\r\n\r\n" + body


ANSWER = _answer()


class _Trivial(asyncio.Protocol):
    """Answers each complete request (headers + Content-Length body) with ANSWER."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport, self.buffer = transport, b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            length = 0
            for line in self.buffer[:end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length :]
            self.transport.write(ANSWER)


def _serve_trivial(port: int) -> None:
    async def serve() -> None:
        server = await asyncio.get_running_loop().create_server(_Trivial, "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


def _wait_port(port: int) -> None:
    deadline = time.monotonic() + START_DEADLINE_S
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)  # poll interval, bounded by the deadline


def _httpx_run(url: str, clients: int, requests: int) -> tuple[float, float]:
    """(requests/s, client CPU µs per request) of httpx.AsyncClient, one per client."""

    async def drive() -> tuple[float, float]:
        left = requests
        http = [
            httpx.AsyncClient(
                base_url=url, headers=ERP_HEADERS, limits=httpx.Limits(max_connections=1)
            )
            for _ in range(clients)
        ]

        async def client(c: httpx.AsyncClient) -> None:
            nonlocal left
            while left > 0:
                left -= 1
                (await c.post("/api/v1/orders", content=BODY)).raise_for_status()

        try:
            await asyncio.gather(*(c.get("/healthz") for c in http))
            cpu, started = time.process_time(), time.perf_counter()
            await asyncio.gather(*(client(c) for c in http))
            wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        finally:
            await asyncio.gather(*(c.aclose() for c in http))
        return requests / wall, cpu / requests * 1e6

    return asyncio.run(drive())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.client_capacity", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--clients", type=int_list, default=[1, 8, 64])
    parser.add_argument("--requests", type=int, default=10000, help="per measurement")
    args = parser.parse_args(argv)
    context = multiprocessing.get_context("spawn")
    port = free_port()
    server = context.Process(target=_serve_trivial, args=(port,), daemon=True)
    server.start()
    rows = []
    try:
        _wait_port(port)
        url = f"http://127.0.0.1:{port}"
        with LoadGenerator(1) as load, context.Pool(1) as pool:
            for clients in args.clients:
                load.prepare(
                    url,
                    "/api/v1/orders",
                    clients=clients,
                    headers=ERP_HEADERS,
                    bodies=[BODY] * args.requests,
                    parse_orders=True,  # as the intake benchmarks do
                )
                result = load.go()
                if result.errors():
                    raise SystemExit(f"the trivial server answered {result.errors()}")
                rate, cpu_us = pool.apply(_httpx_run, (url, clients, args.requests))
                for name, r, c in (
                    ("aiohttp", result.rate, result.client_cpu_us_per_request),
                    ("httpx", rate, cpu_us),
                ):
                    print(f"{name} clients={clients}: {r:,.0f} req/s, {c:.0f} µs CPU/request")
                    rows.append([name, clients, f"{r:,.0f}", f"{c:.0f}"])
    finally:
        server.kill()
        server.join()
    print()
    print(markdown_table(["client", "clients", "req/s", "client CPU µs/request"], rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
