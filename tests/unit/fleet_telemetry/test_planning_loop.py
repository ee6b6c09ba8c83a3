"""The planning tick runs on its own cadence off the event loop, and hands its plans over on
the loop, one tick at a time."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor

import pytest

from edge.planning import PlanningLoop

PERIOD_S = 0.05


@contextlib.contextmanager
def one_thread() -> Iterator[ThreadPoolExecutor]:
    executor = ThreadPoolExecutor(1)
    try:
        yield executor
    finally:
        executor.shutdown(wait=True)


async def run_for(planning: PlanningLoop[int, int], seconds: float) -> None:
    task = asyncio.create_task(planning.run())
    await asyncio.sleep(seconds)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def longest_gap(seconds: float) -> float:
    """How long the loop went without running us, at most, while we tried every 5 ms."""
    loop = asyncio.get_running_loop()
    longest, last, end = 0.0, loop.time(), loop.time() + seconds
    while loop.time() < end:
        await asyncio.sleep(0.005)
        now = loop.time()
        longest, last = max(longest, now - last), now
    return longest


def sleepy(seconds: float) -> Callable[[int], int]:
    def compute(snapshot: int) -> int:
        time.sleep(seconds)  # releases the GIL, as a process would leave it alone
        return snapshot + 1

    return compute


def loop_for(
    compute: Callable[[int], int], executor: Executor | None, installed: list[int]
) -> PlanningLoop[int, int]:
    return PlanningLoop(
        period_s=PERIOD_S,
        snapshot=lambda: len(installed),
        compute=compute,
        install=installed.append,
        executor=executor,
    )


async def test_each_tick_computes_on_a_snapshot_and_installs_the_result() -> None:
    installed: list[int] = []
    with one_thread() as executor:
        await run_for(loop_for(sleepy(0), executor, installed), 0.3)

    assert len(installed) >= 3
    assert installed == list(range(1, len(installed) + 1))


async def test_plans_are_installed_on_the_loop_thread() -> None:
    threads: set[int] = set()
    computed_in: set[int] = set()

    def compute(snapshot: int) -> int:
        computed_in.add(threading.get_ident())
        return snapshot

    with one_thread() as executor:
        planning = PlanningLoop(
            period_s=PERIOD_S,
            snapshot=lambda: 0,
            compute=compute,
            install=lambda _: threads.add(threading.get_ident()),
            executor=executor,
        )
        await run_for(planning, 0.2)

    assert threads == {threading.get_ident()}
    assert threading.get_ident() not in computed_in


async def test_the_loop_keeps_running_while_a_tick_computes() -> None:
    installed: list[int] = []
    with one_thread() as executor:
        planning = loop_for(sleepy(0.3), executor, installed)
        task = asyncio.create_task(planning.run())
        gap = await longest_gap(0.7)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    assert installed
    assert gap < 0.15  # a tick takes 0.3 s


async def test_a_tick_on_the_loop_blocks_it_for_the_whole_compute() -> None:
    installed: list[int] = []
    planning = loop_for(sleepy(0.3), None, installed)
    task = asyncio.create_task(planning.run())
    gap = await longest_gap(0.7)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task

    assert gap >= 0.3


async def test_an_overrunning_tick_delays_the_next_instead_of_piling_up() -> None:
    running = 0
    most = 0

    def slow(snapshot: int) -> int:
        nonlocal running, most
        running += 1
        most = max(most, running)
        time.sleep(3 * PERIOD_S)
        running -= 1
        return snapshot

    installed: list[int] = []
    with ThreadPoolExecutor(4) as executor:
        planning = loop_for(slow, executor, installed)
        await run_for(planning, 0.5)

    assert most == 1
    assert planning.stats.overruns >= 2
    assert planning.stats.ticks == len(installed)


async def test_a_failing_tick_is_counted_and_the_next_one_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls = 0

    def sometimes(snapshot: int) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("the planner fell over")
        return snapshot

    installed: list[int] = []
    with one_thread() as executor:
        planning = loop_for(sometimes, executor, installed)
        await run_for(planning, 0.2)

    assert planning.stats.failures == 1
    assert installed
    assert "the planning tick failed" in caplog.text


def test_a_period_must_be_positive() -> None:
    with pytest.raises(ValueError, match="period_s"):
        PlanningLoop(
            period_s=0, snapshot=lambda: 0, compute=abs, install=lambda _: None, executor=None
        )


# A worker process keeps its planner between ticks: built by the pool's initializer.
_counter: list[int] = []


def _start_counting(first: int) -> None:
    _counter[:] = [first]


def _count(snapshot: int) -> int:
    _counter[0] += 1
    return _counter[0]


async def test_a_one_worker_process_pool_keeps_the_planner_between_ticks() -> None:
    installed: list[int] = []
    executor = ProcessPoolExecutor(
        1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_counting,
        initargs=(100,),
    )
    try:
        planning = loop_for(_count, executor, installed)
        for _ in range(3):
            await planning.tick_once()
    finally:
        executor.shutdown(wait=True)

    assert installed == [101, 102, 103]
