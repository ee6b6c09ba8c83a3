"""The edge's MQTT connection: the only module that imports the client library (aiomqtt).

Subscribes the route table on every (re)connect, publishes a retained birth message and
leaves a last will, reconnects with capped, jittered back-off, and disables Nagle's
algorithm on its socket (DESIGN §7: p99 35-45 ms with it, ~1 ms without).
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import aiomqtt

from edge.mqtt.topics import Route

log = logging.getLogger(__name__)

RECONNECT_FIRST_S = 0.5
RECONNECT_MAX_S = 15.0
NOT_AUTHORIZED_CODES = frozenset(
    {4, 5, 134, 135}
)  # 3.1.1 and 5.0 "bad credentials / not authorized"


@dataclass(frozen=True, slots=True)
class Publication:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False


class NotAuthorized(Exception):
    """The broker refused our credentials: reconnecting would not help."""


class MqttConnection:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        client_id: str,
        keepalive: int,
        birth: Publication,
        will: Publication,
        goodbye: Publication,
    ) -> None:
        self._host, self._port = host, port
        self._client_id, self._keepalive = client_id, keepalive
        self._birth, self._will, self._goodbye = birth, will, goodbye
        self._client: aiomqtt.Client | None = None
        self.connected = asyncio.Event()

    async def run(
        self, routes: Iterable[Route], handle: Callable[[str, bytes], Awaitable[None]]
    ) -> None:
        """Receive until cancelled; `handle` must not raise (the caller guards it)."""
        routes = tuple(routes)
        delay = RECONNECT_FIRST_S
        while True:
            try:
                async with self._connect() as client:
                    self._client = client
                    for route in routes:
                        await client.subscribe(route.filter, qos=route.qos)
                    await self._send(client, self._birth)
                    self.connected.set()
                    delay = RECONNECT_FIRST_S
                    log.info("MQTT connected to %s:%s", self._host, self._port)
                    try:
                        async for message in client.messages:
                            await handle(str(message.topic), _payload_bytes(message.payload))
                    finally:
                        self.connected.clear()
                        self._client = None
            except aiomqtt.MqttCodeError as exc:
                if exc.rc in NOT_AUTHORIZED_CODES:
                    raise NotAuthorized(str(exc)) from exc
                log.warning("MQTT connection lost (%s); retrying in %.1f s", exc, delay)
            except aiomqtt.MqttError as exc:
                log.warning("MQTT connection lost (%s); retrying in %.1f s", exc, delay)
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, RECONNECT_MAX_S)

    async def publish(self, pub: Publication) -> None:
        await self.connected.wait()
        assert self._client is not None
        await self._send(self._client, pub)

    async def say_goodbye(self) -> None:
        """Publish the clean-shutdown status (the will is only for unclean ends)."""
        client = self._client
        if client is not None and self.connected.is_set():
            try:
                await self._send(client, self._goodbye)
            except aiomqtt.MqttError:
                log.warning("could not publish the goodbye status")

    def _connect(self) -> aiomqtt.Client:
        return aiomqtt.Client(
            self._host,
            self._port,
            identifier=self._client_id,
            keepalive=self._keepalive,
            will=aiomqtt.Will(
                self._will.topic, self._will.payload, qos=self._will.qos, retain=self._will.retain
            ),
            socket_options=((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),),
        )

    @staticmethod
    async def _send(client: aiomqtt.Client, pub: Publication) -> None:
        await client.publish(pub.topic, pub.payload, qos=pub.qos, retain=pub.retain)


def _payload_bytes(payload: object) -> bytes:
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    if isinstance(payload, str):
        return payload.encode()
    return b"" if payload is None else str(payload).encode()
