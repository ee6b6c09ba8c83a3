"""The intake writer: one task per API process that decides order pushes in batches.

A request handler queues its push and awaits the answer. The writer takes whatever has
queued while the previous batch ran, decides it in one transaction (api/orders/batch.py)
and answers each push. Under light load a batch is one push, so nothing waits for a
batch to fill; under heavy load one commit serves many orders.

Failures stay with the push that caused them: a batch that fails as a whole is retried
(a unique key lost to another process: the retry sees its order) and then split, so
that one poison push cannot fail the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from datetime import date

from sqlalchemy.exc import IntegrityError

from api.db import Database, utcnow
from api.errors import ApiProblem, Unavailable
from api.orders.amend import amend_order
from api.orders.batch import BatchOutcome, Push, Submission, take_batch
from api.stock.signals import StockSignals

log = logging.getLogger(__name__)

MAX_BATCH = 256  # pushes per transaction: bounds one transaction's time and size
ATTEMPTS = 3


class IntakeWriter:
    def __init__(
        self,
        db: Database,
        distances: Mapping[str, Mapping[str, float]],
        on_signals: Callable[[StockSignals], None],
        *,
        today: Callable[[], date] = lambda: utcnow().date(),
    ) -> None:
        self._db = db
        self._distances = distances
        self._on_signals = on_signals
        self._today = today
        self._queue: asyncio.Queue[Push] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="order intake writer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while not self._queue.empty():
            _answer(self._queue.get_nowait(), Unavailable("the API is shutting down; retry"))

    async def submit(self, push: Push) -> Submission:
        if self._task is None or self._task.done():
            raise Unavailable("order intake is not running; retry")
        self._queue.put_nowait(push)
        return await push.answer

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._decide(batch)
            except asyncio.CancelledError:
                for push in batch:
                    _answer(push, Unavailable("the API is shutting down; retry"))
                raise
            except Exception as exc:
                log.exception("order intake batch failed")
                for push in batch:
                    _answer(push, exc)

    async def _decide(self, batch: list[Push]) -> None:
        live = [p for p in batch if not p.answer.done()]  # a caller may have gone away
        if not live:
            return
        outcome = await self._commit(live)
        if isinstance(outcome, Exception):
            if len(live) == 1:
                _answer(live[0], outcome)
            else:  # find the push that fails: one at a time
                for push in live:
                    await self._decide([push])
            return
        self._settle(outcome)
        for push in outcome.deferred:
            await self._one_deferred(push)

    async def _one_deferred(self, push: Push) -> None:
        """An amendment, or a repeat of an id or key decided in the batch before: alone,
        now that what it depends on has committed."""
        outcome = await self._commit([push])
        if isinstance(outcome, Exception):
            _answer(push, outcome)
            return
        self._settle(outcome)
        if push not in outcome.deferred:
            return
        try:  # deferred again when alone: an amendment
            async with self._db.writer() as session, session.begin():
                answer, signals = await amend_order(
                    session, push, now=utcnow(), today=self._today(), distances=self._distances
                )
        except Exception as exc:
            _answer(push, exc)
            return
        _answer(push, answer)
        self._on_signals(signals)

    def _settle(self, outcome: BatchOutcome) -> None:
        for push, answer in outcome.answers.items():
            _answer(push, answer)
        self._on_signals(outcome.signals)

    async def _commit(self, pushes: list[Push]) -> BatchOutcome | Exception:
        """The batch's outcome once committed, or the error that stopped it."""
        last: Exception | None = None
        for attempt in range(1, ATTEMPTS + 1):
            try:
                async with self._db.writer() as session, session.begin():
                    return await take_batch(
                        session,
                        pushes,
                        now=utcnow(),
                        today=self._today(),
                        distances=self._distances,
                    )
            except IntegrityError as exc:
                # Another process stored one of these order ids or keys first: the next
                # attempt finds it and answers it as a retry.
                log.info("order intake batch lost a race (attempt %d): %s", attempt, exc.orig)
                last = exc
            except ApiProblem as exc:
                return exc
            except Exception as exc:
                log.warning("order intake batch of %d failed: %r", len(pushes), exc)
                return exc
        assert last is not None
        return last


def _answer(push: Push, answer: Submission | BaseException) -> None:
    if push.answer.done():
        return
    if isinstance(answer, BaseException):
        push.answer.set_exception(answer)
    else:
        push.answer.set_result(answer)
