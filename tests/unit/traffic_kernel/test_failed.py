"""A failed AGV: it keeps what it holds, is granted nothing, waits for nobody, is never
stalled and never chosen to give way, until it recovers. Like offline, but distinct."""

from __future__ import annotations

import pytest

from controller.traffic.errors import AgvFailed
from controller.traffic.kernel import Refusal
from controller.traffic.violations import ViolationKind
from tests.unit.traffic_kernel.floors import corridor
from tests.unit.traffic_kernel.test_deadlocks import head_on


def test_a_failed_agv_keeps_its_allocation_and_is_granted_nothing() -> None:
    kernel = corridor(8)
    kernel.place("a", 0)
    kernel.request("a", [0, 1, 2])

    kernel.fail("a")
    refused = kernel.request("a", [0, 1, 2, 3])

    assert refused.nodes == ()
    assert refused.refusal is Refusal.FAILED
    assert kernel.allocation("a") == (0, 1, 2)
    assert kernel.is_failed("a")
    assert not kernel.is_offline("a")  # a state of its own
    assert not kernel.can_yield("a")
    with pytest.raises(AgvFailed):
        kernel.release_ahead("a")
    assert kernel.allocation("a") == (0, 1, 2)


def test_a_failed_agv_is_never_a_stall() -> None:
    kernel = corridor(10)
    kernel.place("a", 0)
    kernel.set_goal("a", 9)
    kernel.check(0.0)

    kernel.fail("a")

    assert kernel.check(500.0) == []


def test_the_stall_clock_restarts_when_it_recovers() -> None:
    kernel = corridor(10)
    kernel.place("a", 0)
    kernel.set_goal("a", 9)
    kernel.check(0.0)
    kernel.fail("a")
    kernel.check(500.0)

    kernel.recover("a")
    kernel.check(501.0)

    assert not kernel.is_failed("a")
    assert kernel.check(561.0) == []
    assert [v.kind for v in kernel.check(562.0)] == [ViolationKind.STALL]
    assert kernel.request("a", [0, 1]).complete


def test_failing_withdraws_its_wait_so_it_closes_no_cycle() -> None:
    kernel = head_on("a", "b")

    kernel.fail("a")

    assert kernel.waits_for() == {"b": "a"}
    assert kernel.check(0.0) == []


def test_a_failed_agv_is_not_chosen_to_yield() -> None:
    kernel = head_on("a", "b")

    kernel.fail("a")

    assert kernel.choose_yielder(("a", "b")) == "b"
