"""What a device really puts on the wire: a TCP relay to the real broker that records the
client's bytes, and a reader for the MQTT 3.1.1 packets in them.

The broker alone cannot show a client's keepalive, its will's QoS and retain flags, or
whether a connection ended with DISCONNECT; the bytes can. The relay closes the broker side
as soon as the client side closes, so the broker sees exactly what the client did (a will is
published when no DISCONNECT came first).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

CONNECT, PUBLISH, SUBSCRIBE, DISCONNECT = 1, 3, 8, 14


@dataclass(frozen=True)
class Packet:
    kind: int  # MQTT control packet type (CONNECT = 1 ...)
    flags: int  # the low nibble of the fixed header
    body: bytes


@dataclass(frozen=True)
class Connect:
    protocol_level: int  # 4: MQTT 3.1.1, 5: MQTT 5
    client_id: str
    keepalive: int
    clean_session: bool
    will_topic: str | None
    will_payload: bytes | None
    will_qos: int
    will_retain: bool


@dataclass(frozen=True)
class Publish:
    topic: str
    payload: bytes
    qos: int
    retain: bool


@dataclass
class Session:
    """One client connection through the relay."""

    sent: bytearray = field(default_factory=bytearray)  # client → broker
    ended: bool = False  # the client closed its side

    def packets(self) -> list[Packet]:
        return read_packets(bytes(self.sent))


def read_packets(data: bytes) -> list[Packet]:
    packets, pos = [], 0
    while pos < len(data):
        first = data[pos]
        pos += 1
        length, shift = 0, 0
        while True:  # remaining length: 7 bits a byte, high bit = more
            byte = data[pos]
            pos += 1
            length |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        if pos + length > len(data):
            break  # a packet still on its way
        packets.append(Packet(first >> 4, first & 0x0F, data[pos : pos + length]))
        pos += length
    return packets


def _string(body: bytes, pos: int) -> tuple[bytes, int]:
    size = int.from_bytes(body[pos : pos + 2], "big")
    return body[pos + 2 : pos + 2 + size], pos + 2 + size


def parse_connect(packet: Packet) -> Connect:
    assert packet.kind == CONNECT
    _, pos = _string(packet.body, 0)  # protocol name
    protocol_level = packet.body[pos]
    pos += 1
    flags = packet.body[pos]
    keepalive = int.from_bytes(packet.body[pos + 1 : pos + 3], "big")
    client_id, pos = _string(packet.body, pos + 3)
    will_topic = will_payload = None
    if flags & 0x04:
        topic, pos = _string(packet.body, pos)
        will_payload, pos = _string(packet.body, pos)
        will_topic = topic.decode()
    return Connect(
        protocol_level=protocol_level,
        client_id=client_id.decode(),
        keepalive=keepalive,
        clean_session=bool(flags & 0x02),
        will_topic=will_topic,
        will_payload=will_payload,
        will_qos=(flags >> 3) & 0x03,
        will_retain=bool(flags & 0x20),
    )


def parse_publish(packet: Packet) -> Publish:
    assert packet.kind == PUBLISH
    qos = (packet.flags >> 1) & 0x03
    topic, pos = _string(packet.body, 0)
    if qos:
        pos += 2  # packet identifier
    return Publish(topic.decode(), packet.body[pos:], qos, bool(packet.flags & 0x01))


def parse_subscribe(packet: Packet) -> list[tuple[str, int]]:
    """(topic filter, requested QoS) of each subscription in an MQTT 3.1.1 SUBSCRIBE."""
    assert packet.kind == SUBSCRIBE
    subscriptions, pos = [], 2  # after the packet identifier
    while pos < len(packet.body):
        topic, pos = _string(packet.body, pos)
        subscriptions.append((topic.decode(), packet.body[pos] & 0x03))
        pos += 1
    return subscriptions


class RecordingRelay:
    def __init__(self, broker_host: str, broker_port: int) -> None:
        self.broker = (broker_host, broker_port)
        self.sessions: list[Session] = []
        self.port = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        record: Session | None,
    ) -> None:
        try:
            with contextlib.suppress(ConnectionError):
                while data := await reader.read(65536):
                    if record is not None:
                        record.sent += data
                    writer.write(data)
                    await writer.drain()
            if record is not None:
                record.ended = True
        finally:
            writer.close()  # one side gone: close the other, as a dropped link would

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        session = Session()
        self.sessions.append(session)
        broker_r, broker_w = await asyncio.open_connection(*self.broker)
        await asyncio.gather(
            self._pump(client_r, broker_w, session),
            self._pump(broker_r, client_w, None),
            return_exceptions=True,
        )

    def _track(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.create_task(self._serve(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


@contextlib.asynccontextmanager
async def recording_relay(broker_host: str, broker_port: int) -> AsyncIterator[RecordingRelay]:
    relay = RecordingRelay(broker_host, broker_port)
    server = await asyncio.start_server(relay._track, "127.0.0.1", 0)
    relay.port = server.sockets[0].getsockname()[1]
    try:
        yield relay
    finally:
        server.close()
        for task in list(relay._tasks):
            task.cancel()
        await asyncio.gather(*relay._tasks, return_exceptions=True)
        await server.wait_closed()
