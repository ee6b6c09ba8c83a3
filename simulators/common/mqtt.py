"""The one module that imports the MQTT client library (aiomqtt, over paho-mqtt).

Devices see `Link`: publish, subscribe, and an async iterator of `Incoming` messages.
TCP_NODELAY is set on the socket: the sorter's decision window is latency-sensitive.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiomqtt

LinkError = aiomqtt.MqttError


@dataclass(frozen=True)
class Will:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


@dataclass(frozen=True)
class Incoming:
    topic: str
    payload: bytes
    retain: bool = False


class Link:
    def __init__(self, client: aiomqtt.Client) -> None:
        self._client = client

    async def publish(
        self, topic: str, payload: bytes | str, *, qos: int = 0, retain: bool = False
    ) -> None:
        await self._client.publish(topic, payload, qos=qos, retain=retain)

    async def subscribe(self, topic: str, *, qos: int = 0) -> None:
        await self._client.subscribe(topic, qos=qos)

    def abort(self) -> None:
        """Drop the TCP connection without an MQTT DISCONNECT, as a network failure would:
        the broker then publishes the client's last will. The message stream ends with
        `LinkError`."""
        sock = self._client._client.socket()  # paho's socket: aiomqtt has no public handle
        if isinstance(sock, socket.socket):  # not None: connected; never a websocket here
            with contextlib.suppress(OSError):  # already gone: nothing left to drop
                sock.shutdown(socket.SHUT_RDWR)

    async def messages(self) -> AsyncIterator[Incoming]:
        async for message in self._client.messages:
            payload = message.payload
            if isinstance(payload, str):
                data = payload.encode()
            elif isinstance(payload, bytes | bytearray):
                data = bytes(payload)
            else:
                data = b""
            yield Incoming(topic=message.topic.value, payload=data, retain=bool(message.retain))


@asynccontextmanager
async def connect(
    *,
    host: str,
    port: int,
    client_id: str,
    will: Will | None = None,
    keepalive: int = 15,
) -> AsyncIterator[Link]:
    client = aiomqtt.Client(
        host,
        port,
        identifier=client_id,
        will=(
            aiomqtt.Will(will.topic, will.payload, qos=will.qos, retain=will.retain)
            if will
            else None
        ),
        keepalive=keepalive,
        clean_session=True,
        timeout=10,
        socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
    )
    async with client:
        yield Link(client)
