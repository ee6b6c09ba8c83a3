"""The thin async shell every simulated device runs in.

A device is a pure model plus this shell: connect (with a last will if the device has
one), subscribe, feed inbound messages and timer wake-ups to the model, publish what it
says. The connection is re-established with capped, jittered back-off; on a clean stop
(the `stop` event, or cancellation) the device gets one last chance to publish.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from typing import Any

from simulators.common.clock import SimClock
from simulators.common.mqtt import Incoming, Link, LinkError, Will, connect

log = logging.getLogger(__name__)

RECONNECT_MIN_S = 0.2
RECONNECT_MAX_S = 5.0
CLEAN_STOP_TIMEOUT_S = 2.0  # a last publish must not hold up a shutdown


def dumps(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()


class DeviceShell:
    """Subclasses set `client_id` and override the hooks they need."""

    client_id: str
    keepalive_s = 15  # MQTT keepalive; VDA 5050 §6.14 asks AGVs for about 15 s

    def __init__(self, *, host: str, port: int, clock: SimClock) -> None:
        self.host = host
        self.port = port
        self.clock = clock
        self.malformed = 0  # inbound messages dropped as malformed
        self.connected = asyncio.Event()
        self.connections = 0  # successful connects so far (a reconnect counts again)
        self._wake = asyncio.Event()
        self._link: Link | None = None
        self._offline_until = float("-inf")  # wall time: an injected outage lasts until then

    # hooks -------------------------------------------------------------------------

    def will(self) -> Will | None:
        return None

    def subscriptions(self) -> list[tuple[str, int]]:
        return []

    async def on_connected(self, link: Link) -> None:
        """Called after (re)connecting and subscribing."""

    async def on_message(self, topic: str, payload: Any, link: Link) -> None:
        """A decoded JSON payload from one of the subscriptions."""

    async def on_tick(self, link: Link) -> float | None:
        """Advance the model to now and publish; return wall seconds until the next wake-up."""
        return None

    async def on_clean_stop(self, link: Link) -> None:
        """Last words on a clean stop (the connection is still up)."""

    # machinery ---------------------------------------------------------------------

    def wake(self) -> None:
        """Something changed outside the device's own timers: tick soon."""
        self._wake.set()

    def drop_connection(self, down_for_s: float = 1.0) -> None:
        """Injected fault: lose the connection without a DISCONNECT (the broker publishes the
        last will), stay away `down_for_s` wall seconds, then reconnect as usual."""
        self._offline_until = self.clock.wall() + down_for_s
        if self._link is not None:
            self._link.abort()

    async def run(self, stop: asyncio.Event) -> None:
        backoff = RECONNECT_MIN_S
        jitter = random.Random(self.client_id)  # back-off only; not part of the simulation
        while not stop.is_set():
            try:
                async with connect(
                    host=self.host,
                    port=self.port,
                    client_id=self.client_id,
                    will=self.will(),
                    keepalive=self.keepalive_s,
                ) as link:
                    backoff = RECONNECT_MIN_S
                    self._link = link
                    try:
                        for topic, qos in self.subscriptions():
                            await link.subscribe(topic, qos=qos)
                        await self.on_connected(link)
                        self.connections += 1
                        self.connected.set()
                        try:
                            await self._serve(link, stop)
                        except asyncio.CancelledError:
                            await self._clean_stop(link)
                            raise
                    finally:
                        self._link = None
                        self.connected.clear()
                    await self._clean_stop(link)
                    return
            except LinkError as exc:
                outage = self._offline_until - self.clock.wall()
                delay = max(backoff * (0.5 + jitter.random()), outage)
                log.warning(
                    "%s: MQTT connection failed (%s); retrying in %.1f s",
                    self.client_id,
                    exc,
                    delay,
                )
                backoff = min(backoff * 2, RECONNECT_MAX_S)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await stop.wait()

    async def _clean_stop(self, link: Link) -> None:
        try:
            async with asyncio.timeout(CLEAN_STOP_TIMEOUT_S):
                await self.on_clean_stop(link)
        except (LinkError, TimeoutError) as exc:
            log.warning("%s: could not say goodbye: %s", self.client_id, exc)

    async def _serve(self, link: Link, stop: asyncio.Event) -> None:
        tasks = [
            asyncio.create_task(self._receive(link), name=f"{self.client_id}-receive"),
            asyncio.create_task(self._tick_loop(link), name=f"{self.client_id}-tick"),
            asyncio.create_task(stop.wait(), name=f"{self.client_id}-stop"),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

    async def _receive(self, link: Link) -> None:
        async for incoming in link.messages():
            await self._dispatch(incoming, link)
            self._wake.set()
        raise LinkError("message stream ended")

    async def _dispatch(self, incoming: Incoming, link: Link) -> None:
        try:
            payload = json.loads(incoming.payload)
        except ValueError:
            self.malformed += 1
            log.warning("%s: dropped a non-JSON message on %s", self.client_id, incoming.topic)
            return
        try:
            await self.on_message(incoming.topic, payload, link)
        except LinkError:
            raise
        except Exception:
            self.malformed += 1
            log.exception(
                "%s: dropped a message on %s it could not handle", self.client_id, incoming.topic
            )

    async def _tick_loop(self, link: Link) -> None:
        while True:
            self._wake.clear()
            delay = await self.on_tick(link)
            if delay is not None and delay <= 0:
                await asyncio.sleep(0)  # let the receiver run between back-to-back ticks
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()


def min_delay(*delays: float | None) -> float | None:
    present = [d for d in delays if d is not None]
    return min(present) if present else None
