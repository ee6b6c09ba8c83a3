"""The delivery worker: sends due deliveries, signed, and retries failures with back-off.

One per API process, started and stopped by the app's lifespan. It wakes when this
process commits an enqueued event (`api.webhooks.wakeup`), when a retry falls due, and
every `poll_interval_s` for what other processes enqueued. A 2xx answer delivers; any
other answer, a connection error or a timeout is a failed attempt. Redirects are not
followed: the registered URL is the one that gets the signed body.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from random import Random

import httpx

from api.db import Database, utcnow
from api.metrics import Metrics
from api.settings import WebhookSettings
from api.webhooks import wakeup
from api.webhooks.claims import Claim, claim, next_due, record
from api.webhooks.models import DeliveryStatus
from api.webhooks.retry import retry_delay
from api.webhooks.signing import delivery_headers

log = logging.getLogger(__name__)

# Beyond the attempt's own timeout, for recording its outcome and for clocks of other
# processes running a little ahead: only then may another worker take the row over.
LEASE_MARGIN_S = 30.0
# How long shutdown waits for attempts in flight; one cut short is sent again later.
SHUTDOWN_GRACE_S = 5.0
ERROR_MAX = 500  # characters of an error kept on the delivery row
USER_AGENT = "smart-warehouse-webhooks/0.1"


@dataclass(frozen=True, slots=True)
class Attempt:
    seconds: float
    status_code: int | None = None  # None: no answer (connection error, timeout)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class DeliveryWorker:
    def __init__(
        self,
        db: Database,
        settings: WebhookSettings,
        metrics: Metrics,
        *,
        rng: Random | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = db
        self._settings = settings
        self._metrics = metrics
        self._rng = rng or Random()
        self._clock = clock
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None

    @classmethod
    @asynccontextmanager
    async def running(
        cls, db: Database, settings: WebhookSettings, metrics: Metrics
    ) -> AsyncIterator[DeliveryWorker | None]:
        """A started worker for the block, or None when this process does not deliver."""
        if not settings.deliver:
            yield None
            return
        worker = cls(db, settings, metrics)
        worker.start()
        try:
            yield worker
        finally:
            await worker.stop()

    def start(self) -> None:
        wakeup.attach(self._db.writer, self.poke)
        self._task = asyncio.create_task(self._run(), name="webhook-delivery")

    async def stop(self) -> None:
        wakeup.detach(self._db.writer)
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            done, _ = await asyncio.wait({self._task}, timeout=SHUTDOWN_GRACE_S)
            if not done:
                self._task.cancel()
                with suppress(asyncio.CancelledError):
                    await self._task
            self._task = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def poke(self) -> None:
        """Look for due deliveries now rather than at the next poll."""
        self._wake.set()

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()  # before looking, so that a poke during the pass is kept
            try:
                wait_s = await self._deliver_due()
            except Exception:
                log.exception("webhook delivery pass failed; trying again at the next poll")
                wait_s = self._settings.poll_interval_s
            if self._stopping:
                break
            with suppress(TimeoutError):
                async with asyncio.timeout(wait_s):
                    await self._wake.wait()

    async def _deliver_due(self) -> float:
        """Deliver all that is due; return the seconds until the next delivery falls due."""
        poll_s = self._settings.poll_interval_s
        while not self._stopping:
            now = self._clock()
            due = await next_due(self._db, now)
            if due is None:
                return poll_s
            if due > now:
                return min(poll_s, (due - now).total_seconds())
            claims = await claim(
                self._db,
                now,
                limit=self._settings.concurrency,
                lease_s=self._settings.timeout_s + LEASE_MARGIN_S,
            )
            if not claims:
                return poll_s  # another worker took them first
            # One attempt's failure (even to record it) must not stop the others: its
            # claim runs out and the delivery is tried again.
            results = await asyncio.gather(*map(self._deliver, claims), return_exceptions=True)
            for c, result in zip(claims, results, strict=True):
                if isinstance(result, Exception):
                    log.error("webhook delivery %s failed", c.delivery_pk, exc_info=result)
        return 0.0

    async def _deliver(self, c: Claim) -> None:
        attempt = await self._send(c)
        now = self._clock()
        status, result, next_at = self._decide(c, attempt, now)
        recorded = await record(
            self._db,
            c,
            status=status,
            now=now,
            next_attempt_at=next_at,
            status_code=attempt.status_code,
            error=attempt.error,
        )
        if not recorded:
            log.info("webhook delivery %s was cancelled or taken over meanwhile", c.delivery_pk)
            return
        self._metrics.webhook_attempted(result, attempt.seconds)
        if attempt.ok:
            self._metrics.webhook_delivered_after((now - c.recorded_at).total_seconds())
        else:
            # The subscription's id, not its URL: a URL may carry the receiver's token.
            log.warning(
                "webhook event %s to webhook %s, attempt %d: %s (%s)",
                c.event_id,
                c.webhook_id,
                c.attempt,
                attempt.error,
                result,
            )

    def _decide(
        self, c: Claim, attempt: Attempt, now: datetime
    ) -> tuple[DeliveryStatus, str, datetime | None]:
        """The delivery's next status, the metric's result, and when to try again."""
        settings = self._settings
        if attempt.ok:
            return DeliveryStatus.DELIVERED, "delivered", None
        if c.attempt >= settings.max_attempts:
            return DeliveryStatus.FAILED, "failed", None
        delay = retry_delay(
            c.attempt, first_s=settings.first_retry_s, max_s=settings.max_retry_s, rng=self._rng
        )
        return DeliveryStatus.PENDING, "retried", now + timedelta(seconds=delay)

    async def _send(self, c: Claim) -> Attempt:
        body = c.body.encode()
        headers = delivery_headers(c.event_id, int(self._clock().timestamp()), body, c.secret)
        started = time.perf_counter()
        try:
            # The whole attempt, not each read or write, is bounded (and so the lease holds).
            async with (
                asyncio.timeout(self._settings.timeout_s),
                self._http().stream("POST", c.url, content=body, headers=headers) as response,
            ):
                code = response.status_code  # the answer's body is not read: only its status
        except (httpx.HTTPError, httpx.InvalidURL, TimeoutError) as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            return Attempt(time.perf_counter() - started, error=error[:ERROR_MAX])
        seconds = time.perf_counter() - started
        return Attempt(seconds, code, None if 200 <= code < 300 else f"HTTP {code}")

    def _http(self) -> httpx.AsyncClient:
        # Made on first use: most API processes' workers have nothing to send for a while.
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self._settings.timeout_s,
                follow_redirects=False,
                headers={"User-Agent": USER_AGENT},
            )
        return self._client
