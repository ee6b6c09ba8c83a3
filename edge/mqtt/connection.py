"""The edge's MQTT connection: the only module that imports the client library (aiomqtt).

Subscribes the route table on every (re)connect, publishes a retained birth message and
leaves a last will, reconnects with capped, jittered back-off, and disables Nagle's
algorithm on its socket (DESIGN §7: p99 35-45 ms with it, ~1 ms without).

Outgoing messages wait in a queue that a sender drains while a connection is up. A
publication that fails (the connection dropped under it, or no PUBACK came in time) goes
back to the head of the queue and is sent again, on this connection or the next: device
commands reach the broker at least once, and a disconnect never reaches the code that
produced them.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

import aiomqtt
from aiomqtt.exceptions import MqttConnectError  # not re-exported by aiomqtt 2.5

from edge.mqtt.topics import Route

log = logging.getLogger(__name__)

RECONNECT_FIRST_S = 0.5
RECONNECT_MAX_S = 15.0
# A refused CONNECT with these codes means bad credentials / not authorised, which reconnecting
# cannot mend: 3.1.1 CONNACK 4 and 5, and the 5.0 reason codes 134 and 135 (paho reports 3.1.1
# refusals as the latter). Only CONNACKs carry them: a failed publish's rc 4 is "not connected".
REFUSED_CREDENTIALS = frozenset({4, 5, 134, 135})
OUTGOING_MAX = 10_000  # queued publications before producers wait (only while a sender drains)
SEND_BATCH_MAX = 20  # publications in flight at once: paho's default max_inflight_messages
RESEND_FIRST_S = 0.2  # pause before sending failed publications again on the same connection
GOODBYE_TIMEOUT_S = 2.0  # at shutdown, time to send what is queued and the OFFLINE status


@dataclass(frozen=True, slots=True)
class Publication:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False


class NotAuthorized(Exception):
    """The broker refused our credentials: reconnecting would not help."""


@dataclass(slots=True)
class _Queued:
    pub: Publication
    sent: asyncio.Future[None] = field(default_factory=asyncio.Future)


class MqttConnection:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        client_id: str,
        keepalive: int,
        birth: Callable[[], Publication],
        will: Callable[[], Publication],
        goodbye: Callable[[], Publication],
        persistent_session: bool = True,
        outgoing_max: int = OUTGOING_MAX,
    ) -> None:
        """`birth`, `will` and `goodbye` build their message when it is sent (the will when
        a connection is made: the broker holds it for that connection)."""
        self._host, self._port = host, port
        self._client_id, self._keepalive = client_id, keepalive
        self._birth, self._will, self._goodbye = birth, will, goodbye
        self._persistent = persistent_session
        self._outgoing_max = outgoing_max
        self._outgoing: deque[_Queued] = deque()
        self._queued = asyncio.Event()  # set while `_outgoing` is not empty
        self._room = asyncio.Event()  # set whenever `_has_room` may have become true
        self._draining = False  # a sender is up and its last batch went through
        self.connected = asyncio.Event()
        self.connects = 0  # successful connections so far

    # --- receiving -------------------------------------------------------------------------

    async def run(
        self, routes: Iterable[Route], handle: Callable[[str, bytes], Awaitable[None]]
    ) -> None:
        """Receive until cancelled, reconnecting whenever the connection ends; `handle`
        should not raise (an exception from it is logged and the message dropped).

        Raises NotAuthorized if the broker refuses our credentials."""
        routes = tuple(routes)
        delay = RECONNECT_FIRST_S
        while True:
            connects = self.connects
            try:
                await self._session(routes, handle)
            except MqttConnectError as exc:
                if _refuses_credentials(exc):
                    raise NotAuthorized(str(exc)) from exc
                log.warning("MQTT broker refused the connection (%s); retrying", exc)
            except aiomqtt.MqttError as exc:
                log.warning("MQTT connection lost (%s); reconnecting", exc)
            except Exception:
                log.exception("MQTT connection failed unexpectedly; reconnecting")
            if self.connects != connects:  # it was up: start the back-off afresh
                delay = RECONNECT_FIRST_S
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, RECONNECT_MAX_S)

    async def _session(
        self, routes: tuple[Route, ...], handle: Callable[[str, bytes], Awaitable[None]]
    ) -> None:
        async with self._client() as client:
            for route in routes:  # every time: the broker may have lost our session
                await client.subscribe(route.filter, qos=route.qos)
            await self._send(client, self._birth())
            self.connects += 1
            self.connected.set()
            log.info("MQTT connected to %s:%s", self._host, self._port)
            sender = asyncio.create_task(self._drain(client), name="mqtt sender")
            try:
                async for message in client.messages:
                    try:
                        await handle(str(message.topic), _payload_bytes(message.payload))
                    except Exception:
                        log.exception("handling a message on %s failed", message.topic)
            finally:
                self.connected.clear()
                self._set_draining(False)
                sender.cancel()
                await asyncio.wait([sender])  # it puts back what it had in flight
                if not sender.cancelled() and sender.exception() is not None:
                    log.error("MQTT sender failed", exc_info=sender.exception())
                if self._outgoing:
                    log.info("%d messages wait for the next connection", len(self._outgoing))

    def _client(self) -> aiomqtt.Client:
        will = self._will()
        return aiomqtt.Client(
            self._host,
            self._port,
            identifier=self._client_id,
            keepalive=self._keepalive,
            will=aiomqtt.Will(will.topic, will.payload, qos=will.qos, retain=will.retain),
            # DESIGN: lose nothing. With a persistent session the broker keeps our
            # subscriptions and queues the QoS 1 device events (station, sorter, dock, AGV
            # connection) that arrive while we are offline for a moment, and hands them over
            # when we reconnect with the same client id; a clean session would drop them.
            clean_session=not self._persistent,
            socket_options=((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),),
        )

    # --- sending ---------------------------------------------------------------------------

    async def publish(self, pub: Publication) -> asyncio.Future[None]:
        """Queue `pub` for sending; returns a future done once the broker has it (for QoS 1,
        its PUBACK). Waits only while a connection drains a full queue."""
        while not self._has_room():
            self._room.clear()
            await self._room.wait()
        item = _Queued(pub)
        self._outgoing.append(item)
        self._queued.set()
        return item.sent

    async def say_goodbye(self, timeout_s: float = GOODBYE_TIMEOUT_S) -> None:
        """Send what is queued, then the clean-shutdown status (the will is only for unclean
        ends). Best effort: nothing is sent while offline."""
        if not self.connected.is_set():
            if self._outgoing:
                log.warning("MQTT offline at shutdown: %d messages unsent", len(self._outgoing))
            return
        sent = await self.publish(self._goodbye())
        done, _ = await asyncio.wait([sent], timeout=timeout_s)
        if not done:
            log.warning("could not publish the goodbye status within %.1f s", timeout_s)

    def _has_room(self) -> bool:
        # Producers wait only while a sender drains the queue. Offline, nothing drains it, and
        # the producer may be the receive loop itself, which must return before we can
        # reconnect; what is produced offline stays small (no device input arrives).
        return len(self._outgoing) < self._outgoing_max or not self._draining

    def _set_draining(self, draining: bool) -> None:
        self._draining = draining
        self._room.set()

    async def _drain(self, client: aiomqtt.Client) -> None:
        """Send the queue, oldest first, while this connection lasts (cancelled at its end)."""
        self._set_draining(True)
        failures = 0
        while True:
            await self._queued.wait()
            count = min(SEND_BATCH_MAX, len(self._outgoing))
            batch = [self._outgoing.popleft() for _ in range(count)]
            if not self._outgoing:
                self._queued.clear()
            self._room.set()
            if await self._send_batch(client, batch):
                failures = 0
                self._set_draining(True)
            else:
                failures += 1
                self._set_draining(False)
                await asyncio.sleep(min(RESEND_FIRST_S * 2 ** (failures - 1), RECONNECT_MAX_S))

    async def _send_batch(self, client: aiomqtt.Client, batch: list[_Queued]) -> bool:
        """Publish `batch` pipelined (paho sends in call order); put back at the head, in
        order, whatever was not confirmed, also when cancelled. False if something failed."""
        tasks = [asyncio.create_task(self._send(client, item.pub)) for item in batch]
        unsent: list[_Queued] = []
        try:
            await asyncio.wait(tasks)
        finally:
            for item, task in zip(batch, tasks, strict=True):
                if not task.done():
                    task.cancel()
                    unsent.append(item)
                elif task.cancelled():
                    unsent.append(item)
                elif isinstance(error := task.exception(), aiomqtt.MqttError):
                    log.warning("publish to %s failed (%s); will retry", item.pub.topic, error)
                    unsent.append(item)
                elif error is not None:  # the message itself is bad: it can never be sent
                    log.error("dropped a publication to %s", item.pub.topic, exc_info=error)
                    item.sent.cancel()
                elif not item.sent.done():
                    item.sent.set_result(None)
            if unsent:
                self._outgoing.extendleft(reversed(unsent))
                self._queued.set()
        return not unsent

    @staticmethod
    async def _send(client: aiomqtt.Client, pub: Publication) -> None:
        await client.publish(pub.topic, pub.payload, qos=pub.qos, retain=pub.retain)


def _refuses_credentials(exc: MqttConnectError) -> bool:
    """True if a refused CONNECT says our credentials are bad. aiomqtt gives the CONNACK's
    code as an int or as a paho ReasonCode (unhashable: compare its int value)."""
    rc: object = exc.rc
    code: object = getattr(rc, "value", rc)
    return isinstance(code, int) and int(code) in REFUSED_CREDENTIALS


def _payload_bytes(payload: object) -> bytes:
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    if isinstance(payload, str):
        return payload.encode()
    return b"" if payload is None else str(payload).encode()
